// What main.ts hands each page; pages import it from here, not from main.ts, so no page
// imports the file that imports it.

/** What every page gets: the chosen environment and where to draw. */
export interface PageContext {
  env: Environment;
  main: HTMLElement;
  /** Aborted when the user leaves the page (closes streams, drops timers). */
  signal: AbortSignal;
}

export interface Environment {
  id: string;
  name: string;
  destinations: Array<{
    id: string;
    type: string;
    events: string[];
    click_window: string;
    view_window: string;
    source: 'file' | 'store' | 'store_override';
    paused: boolean;
    paused_reason: string | null;
  }>;
}
