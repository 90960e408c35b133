// Where the app is, as the address says it: the screen, the model and the run, in the URL's hash
// (`#/train?model=…&run=…`), so Back and Forward move between screens and a reload comes back to
// the same place with the same model and run (the app re-opens them from these paths).
//
// [Note: the hash, and no router]
// The hash works the same in web mode (http://…/#/train) and in the desktop app (file://…/#/train),
// where the page is a file and path routes cannot be served. Three values need no route matching, so
// Mantine's useHash (already a dependency) carries the string and these two pure functions read and
// write it; a router library would add matching and loaders we do not use.

export const SCREENS = ['Model', 'Tune', 'Train', 'Compare', 'Plot', 'Export', 'Runs', 'Workers'] as const;
export type Screen = (typeof SCREENS)[number];
/** A screen's name in the navigation, where it is not its id. */
export const SCREEN_LABELS: Partial<Record<Screen, string>> = { Plot: 'X/Y plot' };

export interface Route {
  screen: Screen;
  /** The open model's directory (what models.open was given), or null. */
  model: string | null;
  /** The open run's directory, or null. */
  run: string | null;
}

export const HOME: Route = { screen: 'Model', model: null, run: null };

/** The route in a location hash ('#/train?model=…&run=…'); anything unknown reads as the Model screen. */
export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const screen = SCREENS.find((s) => s.toLowerCase() === path.toLowerCase()) ?? 'Model';
  const q = new URLSearchParams(query);
  const nonEmpty = (v: string | null): string | null => (v && v.trim() !== '' ? v : null);
  return { screen, model: nonEmpty(q.get('model')), run: nonEmpty(q.get('run')) };
}

/** The hash for a route: '#/screen' plus the model and run that are set. */
export function formatRoute(r: Route): string {
  const q = new URLSearchParams();
  if (r.model) q.set('model', r.model);
  if (r.run) q.set('run', r.run);
  const s = q.toString();
  return `#/${r.screen.toLowerCase()}${s ? `?${s}` : ''}`;
}
