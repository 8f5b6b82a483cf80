import { h } from './dom.js';

/**
 * A CPA or ROAS cell. A ratio left empty because part of its money could not be converted is
 * "—" with the report's ratio_note as its tooltip, underlined so the reader knows to hover:
 * left out, not zero. (The page's notes say the same below the table.)
 */
export function ratioCell(text: string, note: string | null | undefined): HTMLElement {
  return note ? h('td', { class: 'left-out', title: note }, text) : h('td', {}, text);
}
