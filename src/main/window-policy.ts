/**
 * Security decisions for the app window, kept free of any `electron` import so
 * they can be unit-tested under plain Node (see test/window-policy.test.ts).
 */

export interface CspOptions {
  /**
   * Development (Vite dev server) variant: the React Fast Refresh preamble is an
   * inline module script and HMR talks over a websocket to localhost. Never use
   * this for the packaged app.
   */
  dev?: boolean;
}

/** Directive name → sources. Order is kept when serialised. */
export function cspDirectives(options: CspOptions = {}): ReadonlyArray<readonly [string, readonly string[]]> {
  const dev = options.dev === true;
  return [
    ['default-src', ["'self'"]],
    ['script-src', dev ? ["'self'", "'unsafe-inline'"] : ["'self'"]],
    // Mantine injects inline <style> tags and style attributes.
    ['style-src', ["'self'", "'unsafe-inline'"]],
    ['img-src', ["'self'", 'data:', 'blob:']],
    ['connect-src', dev ? ["'self'", 'ws://127.0.0.1:*', 'ws://localhost:*'] : ["'self'", 'ws://127.0.0.1:*']],
    ['object-src', ["'none'"]],
    ['base-uri', ["'self'"]],
    ['form-action', ["'none'"]],
    ['frame-ancestors', ["'none'"]],
  ];
}

/** The Content-Security-Policy header / meta value for the renderer. */
export function contentSecurityPolicy(options: CspOptions = {}): string {
  return cspDirectives(options)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

/**
 * Directives that browsers ignore inside a `<meta http-equiv>` CSP
 * (frame-ancestors, report-uri, sandbox) are dropped here so the meta tag does
 * not produce console warnings.
 */
export function contentSecurityPolicyForMeta(options: CspOptions = {}): string {
  const metaIgnored = new Set(['frame-ancestors', 'report-uri', 'sandbox']);
  return cspDirectives(options)
    .filter(([name]) => !metaIgnored.has(name))
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

/**
 * Returns a copy of `headers` with any existing Content-Security-Policy header
 * (in any letter case) replaced by `policy`. Shape matches Electron's
 * `OnHeadersReceivedListenerDetails.responseHeaders`.
 */
export function withContentSecurityPolicy(
  headers: Record<string, string[] | string> | undefined,
  policy: string,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'content-security-policy') continue;
    out[name] = Array.isArray(value) ? value : [value];
  }
  out['Content-Security-Policy'] = [policy];
  return out;
}

/**
 * May the window navigate to `url`?
 *
 * `appOrigin` is what the app was loaded from: either an http(s) origin (the
 * dev server, e.g. `http://localhost:5173`) or a `file:` URL of the directory
 * (or index.html) holding the built renderer. Same-origin http(s) URLs are
 * allowed; `file:` URLs only inside the renderer directory; everything else
 * (other origins, other schemes, unparsable input) is refused.
 */
export function isAllowedNavigation(url: string, appOrigin: string): boolean {
  let target: URL;
  let app: URL;
  try {
    target = new URL(url);
    app = new URL(appOrigin);
  } catch {
    return false;
  }

  if (app.protocol === 'http:' || app.protocol === 'https:') {
    return (target.protocol === 'http:' || target.protocol === 'https:') && target.origin === app.origin;
  }

  if (app.protocol === 'file:') {
    if (target.protocol !== 'file:' || target.host !== app.host) return false;
    // URL parsing has already resolved `..` and `.` segments, so a plain
    // prefix check against the app directory is enough.
    const appDir = app.pathname.endsWith('/') ? app.pathname : app.pathname.replace(/[^/]*$/, '');
    if (appDir === '/' || appDir === '') return false; // never treat the filesystem root as "the app"
    // Encoded separators could sneak a traversal past the prefix check.
    if (/%2f|%5c/i.test(target.pathname)) return false;
    return target.pathname.startsWith(appDir);
  }

  return false;
}

/** The web preferences the app window must use. */
export interface SecureWebPreferences {
  readonly preload: string;
  readonly contextIsolation: true;
  readonly sandbox: true;
  readonly nodeIntegration: false;
  readonly nodeIntegrationInWorker: false;
  readonly nodeIntegrationInSubFrames: false;
  readonly webSecurity: true;
  readonly allowRunningInsecureContent: false;
  readonly webviewTag: false;
  readonly experimentalFeatures: false;
  readonly navigateOnDragDrop: false;
}

export function secureWebPreferences(preloadPath: string): SecureWebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
  };
}

/** Window geometry and title, shared by the main process and tests. */
export const MAIN_WINDOW = { title: 'Sampler Studio', width: 1280, height: 800 } as const;
