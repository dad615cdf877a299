/**
 * The `_esm` of `jupyter_jobflow.widget.Panel`: a loader of about 1 KB, which is all a saved
 * notebook keeps of the panel's code (the widget state of every panel holds its `_esm`; the
 * bundle itself, `widget.js`, is ~90 KB). It fetches the bundle, once per page:
 *
 *  1. from the Jupyter server of the page (`<base>jobflow/static/widget.js?v=<hash>`, served by the
 *     jobflow server extension without login, like Jupyter's own static files), then from the
 *     service the kernel found (`server_url`: the daemon serves the same route);
 *  2. else from the kernel (VS Code, a server without the extension): `{type: "bundle"}` and the
 *     kernel answers `{type: "bundle", hash}` with the code as a binary buffer (never saved).
 *
 * `?v=` is the hash of the kernel's own `widget.js`: a server with another version answers 404
 * and the kernel's copy is used. Where nothing answers (a notebook viewed offline) the panel says
 * so after a while and the static snapshot under it stays visible (only the bundle hides it).
 */

interface LoaderModel {
  get(name: string): any;
  send(content: any, callbacks?: any, buffers?: ArrayBuffer[]): void;
  on(event: 'msg:custom', fn: (content: any, buffers?: DataView[]) => void): void;
  off(event: 'msg:custom', fn: (content: any, buffers?: DataView[]) => void): void;
}

interface Bundle {
  default: { render(props: { model: any; el: HTMLElement }): Promise<() => void> | (() => void) | void };
}

/** Every loader instance (anywidget imports `_esm` once per widget) shares the loaded bundle. */
const cache: Record<string, Promise<Bundle>> = ((globalThis as any).__jobflowBundles ??= {});

function bases(model: LoaderModel): string[] {
  const out: string[] = [];
  const el = document.getElementById('jupyter-config-data');
  try {
    if (el?.textContent) {
      out.push(new URL(JSON.parse(el.textContent).baseUrl || '/', location.origin).href);
    }
  } catch {
    // not a Jupyter page
  }
  const url = String(model.get('server_url') || '');
  if (url) {
    try {
      out.push(new URL(url, location.href).href);
    } catch {
      // not a URL
    }
  }
  return out.filter((b, i) => out.indexOf(b) === i);
}

function fromKernel(model: LoaderModel, hash: string): Promise<Bundle> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: any, buffers?: DataView[]) => {
      if (msg?.type !== 'bundle' || msg.hash !== hash) {
        return;
      }
      model.off('msg:custom', onMessage);
      if (!buffers?.length) {
        reject(new Error(msg.error || 'the kernel sent no code'));
        return;
      }
      const url = URL.createObjectURL(new Blob([buffers[0] as BlobPart], { type: 'text/javascript' }));
      import(/* webpackIgnore: true */ url).then(resolve, reject).finally(() => URL.revokeObjectURL(url));
    };
    model.on('msg:custom', onMessage);
    try {
      model.send({ type: 'bundle', hash });
    } catch (err) {
      model.off('msg:custom', onMessage);
      reject(err);
    }
  });
}

async function load(model: LoaderModel): Promise<Bundle> {
  const hash = String(model.get('bundle_hash') || '');
  for (const base of bases(model)) {
    try {
      const mod: Bundle = await import(/* webpackIgnore: true */ `${base}jobflow/static/widget.js?v=${hash}`);
      if (typeof mod?.default?.render === 'function') {
        (globalThis as any).__jobflowLoadedFrom = 'server';
        return mod;
      }
    } catch {
      // this server does not serve it (or another version): try the next, then the kernel
    }
  }
  const mod = await fromKernel(model, hash);
  (globalThis as any).__jobflowLoadedFrom = 'kernel';
  return mod;
}

async function render({ model, el }: { model: LoaderModel; el: HTMLElement }): Promise<() => void> {
  const hash = String(model.get('bundle_hash') || '');
  const waiting = document.createElement('div');
  waiting.className = 'jobflow-loading';
  waiting.textContent = 'Loading the jobflow panel…';
  waiting.style.cssText = 'color:#666;font:13px sans-serif;padding:6px 2px';
  el.appendChild(waiting);
  const pending = (cache[hash] ??= load(model));
  // the kernel answers between cells; without a kernel (a notebook viewed offline) it never does
  const slow = setTimeout(() => {
    waiting.textContent = 'Loading the jobflow panel: waiting for the kernel (the table below is a snapshot)…';
  }, 10_000);
  let bundle: Bundle;
  try {
    bundle = await pending;
  } catch (err) {
    clearTimeout(slow);
    if (cache[hash] === pending) {
      delete cache[hash]; // a later panel tries again
    }
    waiting.textContent = `jobflow panel: cannot load its code (${err}); the table below is a snapshot.`;
    return () => waiting.remove();
  }
  clearTimeout(slow);
  waiting.remove();
  const dispose = await bundle.default.render({ model, el });
  return () => dispose?.();
}

export default { render };
