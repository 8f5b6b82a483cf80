/**
 * The commands behind `pixeltrail(...)`: init, track, page, identify, consent. Builds events
 * in the shape of DESIGN.md §5 and hands them to the transport.
 */
import { followCmp } from './cmp.js';
import { listenDataLayer } from './datalayer.js';
import { anonymousId, forgetStored, newId, touchIds } from './identity.js';
import { whenIdle } from './idle.js';
import type { Command, CommandRunner } from './queue.js';
import { loadRules } from './rules-loader.js';
import { loadStored } from './storage.js';
import { createSender } from './transport.js';

type Properties = Record<string, unknown>;

interface Consent {
  ads?: boolean;
  analytics?: boolean;
}

interface InitOptions {
  /** Collector base URL; defaults to where t.js was loaded from. */
  endpoint?: string;
  /** Send a PageView on init unless false. */
  autoPageView?: boolean;
  consent?: Consent;
  /** Load the environment's codeless trigger rules unless false. */
  rules?: boolean;
  /** What a visitor who said nothing consents to; defaults to the environment's (t.js?env_id=). */
  consentDefault?: 'granted' | 'denied';
  /** Take consent from the page's TCF or GPP CMP; defaults to the environment's `follow_cmp`. */
  cmp?: boolean;
  /** Landing-URL parameter carrying the click id; defaults to the environment's (`pt_click_id`). */
  clickIdParam?: string;
}

interface TrackOptions {
  event_id?: string;
  user?: Properties;
}

interface Traits {
  email?: string;
  phone?: string;
}

/**
 * What the collector prepends to t.js?env_id=: the environment's consent default,
 * `follow_cmp`, `click_id_param` and whether it has trigger rules.
 */
export interface TagEnvironment {
  pixeltrailConsentDefault?: string;
  pixeltrailCmp?: boolean;
  pixeltrailClickParam?: string;
  pixeltrailRules?: boolean;
}

/**
 * Creates the command runner; `scriptUrl` is where t.js was loaded from (its directory is the
 * default endpoint), undefined when unknown (the page's origin then).
 */
export function createTracker(scriptUrl: string | undefined, env: TagEnvironment): CommandRunner {
  let envId = '';
  let clickParam = env.pixeltrailClickParam;
  /**
   * The dataLayer is read once the stub's queue is replayed: a purchase pushed before t.js
   * loaded was pushed after the page's queued `identify` and `consent`, so it goes out with
   * them, not with the state of the moment `init` is replayed.
   */
  let replaying = true;
  let readDataLayer: (() => void) | undefined;
  let send: (event: () => string) => void;
  let consent: Consent | undefined;
  let consentDefault = env.pixeltrailConsentDefault;
  /** Following a CMP: until it answers, the person has not refused anything yet. */
  let followsCmp = false;
  const user: Properties = {};

  /** A purpose is granted when stated so, or by the default when nothing was stated. */
  const granted = (v?: boolean) => (v === undefined ? consentDefault !== 'denied' : v);
  /** Nothing is stored in the browser before consent when the default is denied. */
  function mayStore(): boolean {
    return granted(consent?.ads) || granted(consent?.analytics);
  }

  /**
   * Storage allows ids but they are not read yet: they are read (or made) when the first
   * beacon goes, at idle time (idle.ts), not while the page loads; a first visit's first
   * cookie and localStorage reads each wait on the browser for milliseconds.
   */
  let idsWanted = false;
  /** Events tracked meanwhile: they get the ids before they are sent. */
  let awaiting: { user: Properties }[] = [];

  /** Picks up (or drops) the stored ids when consent allows (or stops allowing) storage. */
  function syncIds(): void {
    if (!envId) return;
    if (mayStore()) {
      // Read at idle time even when no event goes: the next page finds the id stored.
      if (!user.anonymous_id && !idsWanted) {
        idsWanted = true;
        // The cookies first: where the browser reads them without making the page wait, the
        // ids are read once they have come (idle.ts).
        whenIdle(loadStored);
        whenIdle(storedIds);
      }
    } else {
      // Not carried by events tracked while storage was allowed but not yet read.
      idsWanted = false;
      awaiting = [];
      // Undecided while the CMP has not answered: nothing read or written, but ids the
      // person agreed to on an earlier page stay for when the CMP says so again.
      if (!followsCmp || consent !== undefined) forgetStored();
      delete user.anonymous_id;
      Object.assign(user, touchIds(false, clickParam));
    }
  }

  /** Reads (or makes) the stored ids once, and gives them to the events waiting for them. */
  function storedIds(): void {
    if (!idsWanted) return;
    idsWanted = false;
    const ids = Object.assign({ anonymous_id: anonymousId() }, touchIds(true, clickParam));
    Object.assign(user, ids);
    // What an event was given itself (its `user` option) wins, as when the ids were at hand.
    for (const e of awaiting.splice(0)) e.user = Object.assign({}, ids, e.user);
  }
  // track/page calls made before init: they need the env id and endpoint it brings.
  const waiting: Command[] = [];
  /**
   * The first event of this page load is its landing (issue 23): only a landing makes a visit.
   * A single-page app's route changes keep `document.referrer` (and often the UTM query) of
   * the landing; their events say `landing: false`, so they are not landings again. Until an
   * event the server may make a visit of has gone (see track), later events say `true` too.
   */
  let landing = true;

  function track(name: string, properties?: Properties, options: TrackOptions = {}): void {
    const e = { user: Object.assign({}, user, options.user) };
    if (idsWanted) awaiting.push(e);
    // Written out now, as the page has it now; `user` when it goes, with the stored ids.
    const json = JSON.stringify({
      event_name: name,
      event_id: options.event_id || newId(),
      event_time: Math.floor(Date.now() / 1000),
      env_id: envId,
      properties: Object.assign(
        { url: location.href, referrer: document.referrer, title: document.title },
        properties,
      ),
      consent,
      landing,
    });
    // The landing is used up only by an event the server may make a visit of. Under a `denied`
    // default the first PageView goes before the CMP answers and is stored denied: the first
    // event after the visitor accepts is the landing then (repeated copies of one visit are
    // written once, visit-gate.ts). As the server decides (domain/consent.ts decideConsent,
    // visit-touch.ts): neither purpose refused, and with nothing stated, the default; once
    // neither is false, `ads || analytics` is undefined only when neither was stated.
    const c = consent || {};
    if (c.ads !== false && c.analytics !== false && granted(c.ads || c.analytics)) landing = false;
    send(() => `{"user":${JSON.stringify(e.user)},${json.slice(1)}`);
  }

  function init(id: string, options: InitOptions = {}): void {
    if (envId || !id) return;
    envId = id;
    if (options.consent) consent = options.consent;
    if (options.consentDefault) consentDefault = options.consentDefault;
    if (options.clickIdParam) clickParam = options.clickIdParam;
    followsCmp = !!(options.cmp ?? env.pixeltrailCmp);
    syncIds();
    // Before the first PageView: a CMP that already knows answers at once.
    if (followsCmp) followCmp(window as never, stateCommands.consent);
    const base = (
      options.endpoint || (scriptUrl ? new URL('.', scriptUrl).href : location.origin)
    ).replace(/\/+$/, '');
    send = createSender(`${base}/e`, storedIds);
    if (options.autoPageView !== false) track('PageView');
    waiting.splice(0).forEach(run);
    readDataLayer = () =>
      listenDataLayer(window as never, (event) =>
        track(event.name, event.properties, { event_id: event.eventId }),
      );
    if (!replaying) readDataLayer();
    // `false` when t.js?env_id= says the environment has no trigger rules: nothing to load.
    if (options.rules !== false && env.pixeltrailRules !== false) loadRules(base, id);
  }

  // identify and consent only set state, so they apply at once, even before init.
  const stateCommands: Record<string, (...args: any[]) => void> = {
    init,
    identify(userId?: string, traits: Traits = {}) {
      if (userId) user.user_id = String(userId);
      if (traits.email) user.email = traits.email;
      if (traits.phone) user.phone = traits.phone;
    },
    consent(given: Consent) {
      consent = given;
      syncIds();
    },
  };
  const eventCommands: Record<string, (...args: any[]) => void> = {
    track,
    page: (properties?: Properties) => track('PageView', properties),
  };

  function run(command: Command): void {
    const [name, ...args] = command as [string, ...unknown[]];
    if (stateCommands[name]) stateCommands[name](...args);
    else if (eventCommands[name]) envId ? eventCommands[name](...args) : waiting.push(command);
  }
  return {
    run,
    replayed() {
      replaying = false;
      readDataLayer?.();
    },
  };
}
