import { api, qs } from '../api.js';
import { h, snippet } from '../dom.js';
import type { PageContext } from '../page.js';
import { destinationsSection } from './destinations.js';

interface Setup {
  public_url: string;
  environments: Array<{ id: string; name: string; write_key: string; click_url_hosts: string[] }>;
}

/** Setup: copy-ready snippets, a signed click-link builder, and destinations. */
export async function setupPage({ env, main }: PageContext): Promise<void> {
  const setup = await api<Setup>('/api/setup');
  const e = setup.environments.find((x) => x.id === env.id);
  if (!e) return;
  const url = setup.public_url;
  const dest = env.destinations[0]?.id ?? 'DEST_ID';

  const pixelUrl = `${url}/i?${qs({ env_id: e.id, dest_id: dest })}&imp_id={imp_id}&campaign_id={campaign_id}&creative_id={creative_id}&placement_id={placement_id}&cb={cachebuster}`;
  const tag = [
    '<script>window.pixeltrail=window.pixeltrail||function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};</script>',
    `<script async src="${url}/t.js"></script>`,
    `<script>pixeltrail('init','${e.id}');</script>`,
    `<!-- on the thank-you page: -->`,
    `<script>pixeltrail('track','Purchase',{value:49.9,currency:'EUR'},{event_id:'ORDER_ID'});</script>`,
  ].join('\n');
  const email = `<img src="${url}/p?env_id=${e.id}&ev=EmailOpen&eid={message_id}" width="1" height="1" alt="">`;
  const body = JSON.stringify({
    events: [
      {
        event_name: 'Purchase',
        event_id: 'ord-1001',
        user: { email: 'a@b.com', ip: '203.0.113.9', user_agent: 'Mozilla/5.0' },
        properties: { value: 49.9, currency: 'EUR' },
      },
    ],
  });
  const curl = `curl -X POST ${url}/v1/events \\\n  -H 'Authorization: Bearer ${e.write_key}' -H 'Content-Type: application/json' \\\n  -d '${body}'`;
  const node = [
    `await fetch('${url}/v1/events', {`,
    `  method: 'POST',`,
    `  headers: { authorization: 'Bearer ${e.write_key}', 'content-type': 'application/json' },`,
    `  body: JSON.stringify({ events: [{ event_name: 'Purchase', event_id: order.id,`,
    `    user: { email: order.email, ip: req.ip, user_agent: req.headers['user-agent'] },`,
    `    properties: { value: order.total, currency: order.currency } }] }),`,
    `});`,
  ].join('\n');

  const linkUrl = h('input', {
    id: 'l-url',
    type: 'url',
    required: true,
    placeholder: 'https://shop.example/landing',
  });
  const linkDest = h(
    'select',
    { id: 'l-dest' },
    ...env.destinations.map((d) => h('option', { value: d.id }, d.id)),
  );
  const linkCampaign = h('input', { id: 'l-campaign', placeholder: 'c1' });
  const linkCreative = h('input', { id: 'l-creative' });
  const linkOut = h('div', { id: 'l-out' });
  const linkForm = h(
    'form',
    {
      class: 'filters',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const q = qs({
          env_id: e.id,
          url: linkUrl.value,
          dest_id: linkDest.value,
          campaign_id: linkCampaign.value,
          creative_id: linkCreative.value,
        });
        api<{ url: string }>(`/api/click-links?${q}`).then(
          (r) =>
            linkOut.replaceChildren(
              snippet('Signed click link (the ad server appends nothing)', r.url),
            ),
          (err: Error) => linkOut.replaceChildren(h('p', { class: 'error' }, err.message)),
        );
      },
    },
    h('label', {}, 'Landing URL ', linkUrl),
    h('label', {}, 'Destination ', linkDest),
    h('label', {}, 'Campaign ', linkCampaign),
    h('label', {}, 'Creative ', linkCreative),
    h('button', { type: 'submit' }, 'Sign link'),
  );

  main.append(
    h('h2', {}, 'Snippets'),
    snippet('Impression pixel URL (ad server macros in braces)', pixelUrl),
    snippet('Site tag', tag),
    snippet('Email open pixel', email),
    snippet('Server API (curl)', curl),
    snippet('Server API (Node)', node),
    h('h2', {}, 'Click-tracking link builder'),
    h(
      'p',
      { class: 'muted' },
      `Unsigned links may only redirect to: ${e.click_url_hosts.join(', ') || 'nowhere'}.`,
    ),
    linkForm,
    linkOut,
  );
  const destBox = h('section', { id: 'destinations', 'aria-label': 'Destinations' });
  main.append(destBox);
  await destinationsSection(e.id, destBox);
}
