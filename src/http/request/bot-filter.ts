import { isbot } from 'isbot';

/** User agents remembered; real traffic repeats a few thousand of them. */
const MAX_REMEMBERED_AGENTS = 5000;
/**
 * Longer agents are not remembered: real ones are a few hundred characters, and 5,000 agents
 * of 32 KB (what a request head allows) would hold 160 MB.
 */
export const MAX_REMEMBERED_AGENT_CHARS = 1024;
const verdicts = new Map<string, boolean>();

/**
 * `isbot` runs a large regular expression per call; the same user agents come back again
 * and again, so their verdicts are kept in a bounded map.
 */
export function isBotAgent(userAgent: string | undefined): boolean {
  const ua = userAgent ?? '';
  let bot = verdicts.get(ua);
  if (bot === undefined) {
    bot = isbot(ua);
    if (ua.length > MAX_REMEMBERED_AGENT_CHARS) return bot;
    if (verdicts.size >= MAX_REMEMBERED_AGENTS) verdicts.clear();
    verdicts.set(ua, bot);
  }
  return bot;
}
