// Pure security policy of the app window (no Electron binary needed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  MAIN_WINDOW,
  contentSecurityPolicy,
  contentSecurityPolicyForMeta,
  isAllowedNavigation,
  secureWebPreferences,
  withContentSecurityPolicy,
} from '../src/main/window-policy';
import { exportPathSuggestion, IPC, withOnnxExtension } from '../src/shared/ipc';

/** Parses "a x y; b z" into { a: ['x','y'], b: ['z'] }. */
function parseCsp(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (!name) continue;
    assert.ok(!out.has(name), `directive ${name} repeated`);
    out.set(name, sources);
  }
  return out;
}

describe('contentSecurityPolicy', () => {
  const prod = parseCsp(contentSecurityPolicy());

  it('never allows eval, in production or dev', () => {
    assert.doesNotMatch(contentSecurityPolicy(), /unsafe-eval/);
    assert.doesNotMatch(contentSecurityPolicy({ dev: true }), /unsafe-eval/);
    assert.doesNotMatch(contentSecurityPolicyForMeta(), /unsafe-eval/);
  });

  it("defaults to 'self' and only runs same-origin scripts", () => {
    assert.deepEqual(prod.get('default-src'), ["'self'"]);
    assert.deepEqual(prod.get('script-src'), ["'self'"]);
    assert.deepEqual(prod.get('object-src'), ["'none'"]);
  });

  it('allows inline styles (Mantine), data/blob images and the local websocket', () => {
    assert.deepEqual(prod.get('style-src'), ["'self'", "'unsafe-inline'"]);
    assert.deepEqual(prod.get('img-src'), ["'self'", 'data:', 'blob:']);
    assert.deepEqual(prod.get('connect-src'), ["'self'", 'ws://127.0.0.1:*']);
  });

  it('relaxes script-src only in the dev variant', () => {
    const dev = parseCsp(contentSecurityPolicy({ dev: true }));
    assert.ok(dev.get('script-src')?.includes("'unsafe-inline'"));
    assert.deepEqual(dev.get('default-src'), ["'self'"]);
  });

  it('matches the meta tag in src/renderer/index.html', () => {
    const html = readFileSync(new URL('../src/renderer/index.html', import.meta.url), 'utf8');
    const match = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html);
    assert.ok(match, 'index.html has a CSP meta tag');
    assert.equal(match[1], contentSecurityPolicyForMeta());
    // The meta variant is the header minus directives that meta tags ignore.
    assert.ok(!parseCsp(contentSecurityPolicyForMeta()).has('frame-ancestors'));
    assert.deepEqual(prod.get('frame-ancestors'), ["'none'"]);
  });
});

describe('withContentSecurityPolicy', () => {
  it('replaces an existing header whatever its case and keeps the others', () => {
    const headers = withContentSecurityPolicy(
      { 'content-security-policy': ['default-src *'], 'Content-Type': 'text/html' },
      "default-src 'self'",
    );
    assert.deepEqual(headers, {
      'Content-Type': ['text/html'],
      'Content-Security-Policy': ["default-src 'self'"],
    });
  });

  it('works without incoming headers', () => {
    assert.deepEqual(withContentSecurityPolicy(undefined, 'x'), { 'Content-Security-Policy': ['x'] });
  });
});

describe('isAllowedNavigation', () => {
  const devOrigin = 'http://localhost:5173';
  const appDir = 'file:///opt/sampler-studio/resources/app/out/renderer/';

  it('allows the app origin (dev server)', () => {
    assert.equal(isAllowedNavigation('http://localhost:5173/', devOrigin), true);
    assert.equal(isAllowedNavigation('http://localhost:5173/index.html#/tune', devOrigin), true);
  });

  it('refuses foreign origins, other ports and other schemes', () => {
    assert.equal(isAllowedNavigation('https://example.com/', devOrigin), false);
    assert.equal(isAllowedNavigation('http://localhost:5174/', devOrigin), false);
    assert.equal(isAllowedNavigation('https://localhost:5173/', devOrigin), false);
    assert.equal(isAllowedNavigation('http://localhost.evil.com:5173/', devOrigin), false);
    assert.equal(isAllowedNavigation('file:///etc/passwd', devOrigin), false);
    assert.equal(isAllowedNavigation('javascript:alert(1)', devOrigin), false);
    assert.equal(isAllowedNavigation('data:text/html,<h1>x</h1>', devOrigin), false);
  });

  it('allows files inside the built renderer only', () => {
    assert.equal(isAllowedNavigation(`${appDir}index.html`, appDir), true);
    assert.equal(isAllowedNavigation(`${appDir}index.html#/runs`, appDir), true);
    // An index.html URL as appOrigin means its directory.
    assert.equal(isAllowedNavigation(`${appDir}index.html`, `${appDir}index.html`), true);
  });

  it('refuses file:// outside the app, including traversal tricks', () => {
    assert.equal(isAllowedNavigation('file:///etc/passwd', appDir), false);
    assert.equal(isAllowedNavigation('file:///opt/sampler-studio/resources/app/out/main/index.js', appDir), false);
    assert.equal(isAllowedNavigation(`${appDir}../main/index.js`, appDir), false);
    assert.equal(isAllowedNavigation(`${appDir}..%2f..%2fsecret.html`, appDir), false);
    assert.equal(
      isAllowedNavigation('file:///opt/sampler-studio/resources/app/out/renderer-evil/x.html', appDir),
      false,
    );
    assert.equal(
      isAllowedNavigation('file://remote-host/opt/sampler-studio/resources/app/out/renderer/index.html', appDir),
      false,
    );
    assert.equal(isAllowedNavigation('https://example.com/', appDir), false);
    assert.equal(isAllowedNavigation('file:///', 'file:///'), false);
  });

  it('refuses unparsable input', () => {
    assert.equal(isAllowedNavigation('not a url', devOrigin), false);
    assert.equal(isAllowedNavigation('http://localhost:5173/', 'not a url'), false);
  });
});

describe('secureWebPreferences', () => {
  it('isolates, sandboxes and keeps Node out of the renderer', () => {
    const prefs = secureWebPreferences('/app/out/preload/index.cjs');
    assert.equal(prefs.preload, '/app/out/preload/index.cjs');
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.nodeIntegrationInWorker, false);
    assert.equal(prefs.nodeIntegrationInSubFrames, false);
    assert.equal(prefs.webSecurity, true);
    assert.equal(prefs.allowRunningInsecureContent, false);
    assert.equal(prefs.webviewTag, false);
  });
});

describe('MAIN_WINDOW', () => {
  it('is the 1280×800 "Sampler Studio" window', () => {
    assert.deepEqual({ ...MAIN_WINDOW }, { title: 'Sampler Studio', width: 1280, height: 800 });
  });
});

describe('native dialog channels (shared/ipc.ts)', () => {
  it('checks the renderer’s suggested export path and keeps the .onnx extension', () => {
    assert.equal(exportPathSuggestion('/runs/a/policy.onnx'), '/runs/a/policy.onnx');
    for (const bad of [undefined, null, 3, '', 'x'.repeat(5000), 'a\0b', { path: 'x' }])
      assert.equal(exportPathSuggestion(bad), 'policy.onnx');
    assert.equal(withOnnxExtension('/tmp/my-policy'), '/tmp/my-policy.onnx');
    assert.equal(withOnnxExtension('/tmp/p.ONNX'), '/tmp/p.ONNX');
  });
  it('has distinct channel names', () => {
    const names = Object.values(IPC);
    assert.equal(new Set(names).size, names.length);
  });
});
