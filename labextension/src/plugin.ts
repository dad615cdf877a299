/**
 * The JupyterLab sidebar: a left-area panel with the same views as the widget, over all jobs;
 * palette commands; "Insert dependent cell", which puts `%%gbatch --depends-on <id>` below the
 * active cell of the current notebook; job-end notifications (notify.ts, set in Settings → Jobflow).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { JobNotifier, NotifyLevel } from './notify';
import { DirectTransport } from './transport/direct';
import { mount, PanelHandle, Session, Tab } from './view';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161">' +
  '<rect x="8" y="2" width="8" height="5" rx="1"/><rect x="2" y="17" width="8" height="5" rx="1"/>' +
  '<rect x="14" y="17" width="8" height="5" rx="1"/>' +
  '<path d="M11.3 7h1.4v4H18a1 1 0 0 1 1 1v5h-1.4v-4.6H6.4V17H5v-5a1 1 0 0 1 1-1h5.3z"/></g></svg>';

export const jobflowIcon = new LabIcon({ name: 'jupyter-jobflow:icon', svgstr: ICON_SVG });

export const SIDEBAR_ID = 'jupyter-jobflow-sidebar';

namespace CommandIDs {
  export const open = 'jobflow:open';
  export const showTab = 'jobflow:show-tab';
  export const insertDependent = 'jobflow:insert-dependent-cell';
  export const cancel = 'jobflow:cancel';
}

/** The REST and stream transport of this page's server, with JupyterLab's own auth handling. */
export function labTransport(): DirectTransport {
  const settings = ServerConnection.makeSettings();
  return new DirectTransport({
    baseUrl: settings.baseUrl,
    wsUrl: settings.wsUrl,
    token: settings.token,
    appendToken: settings.appendToken,
    fetch: async (url, init) => {
      try {
        return await ServerConnection.makeRequest(url, init, settings);
      } catch (err) {
        throw new Error(err instanceof Error ? err.message : String(err));
      }
    }
  });
}

/** The sidebar widget: mounts the view the first time it is shown. */
class JobflowSidebar extends Widget {
  handle: PanelHandle | null = null;
  selected: number | null = null;

  constructor(private makeHandle: (node: HTMLElement) => PanelHandle) {
    super();
    this.id = SIDEBAR_ID;
    this.title.icon = jobflowIcon;
    this.title.caption = 'Jobflow: jobs, dependencies, logs, GPUs';
    this.addClass('jp-JobflowSidebar');
  }

  ensure(): PanelHandle {
    if (!this.handle) {
      this.handle = this.makeHandle(this.node);
    }
    return this.handle;
  }

  protected onAfterShow(): void {
    this.ensure();
  }

  protected onCloseRequest(): void {
    // the sidebar stays; nothing to do
  }

  dispose(): void {
    this.handle?.dispose();
    super.dispose();
  }
}

/** The part of a notebook panel "insert dependent cell" needs (no @jupyterlab/notebook import). */
interface NotebookLike {
  content: {
    activeCell: { model: { sharedModel: { setSource(text: string): void } } } | null;
  };
  context?: { path?: string };
  /** the notebook's kernel, for the notifications' "is a cell still running" */
  sessionContext?: {
    session?: { kernel?: { id: string; status: string } | null } | null;
    statusChanged: { connect(fn: (sender: unknown, status: string) => void): void };
  };
}

function isNotebook(w: unknown): w is NotebookLike {
  return !!w && typeof w === 'object' && 'content' in w && !!(w as any).content && 'activeCell' in (w as any).content;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-jobflow:sidebar',
  description: 'The jobflow panel: dependency graph, jobs, logs and GPU charts, live',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settings: ISettingRegistry | null
  ) => {
    const { commands, shell } = app;
    let session: Session | null = null;
    let lastNotebook: NotebookLike | null = null;
    const kernelWatched = new WeakSet<object>();
    shell.currentChanged?.connect((_, change) => {
      if (isNotebook(change.newValue)) {
        lastNotebook = change.newValue;
        watchKernel(change.newValue);
      }
    });

    const insertDependent = async (id: number): Promise<void> => {
      const current = shell.currentWidget;
      const nb = isNotebook(current) ? current : lastNotebook;
      if (!nb) {
        throw new Error('Open a notebook first: the dependent cell goes below its active cell');
      }
      if ((nb as unknown) !== current) {
        shell.activateById((nb as unknown as Widget).id);
      }
      await commands.execute('notebook:insert-cell-below');
      const cell = nb.content.activeCell;
      cell?.model.sharedModel.setSource(`%%gbatch --depends-on ${id}\n`);
      await commands.execute('notebook:enter-edit-mode').catch(() => undefined);
    };

    const sidebar = new JobflowSidebar(node => {
      session ??= new Session(labTransport());
      watchJobs(session);
      const handle = mount(node, session, {
        mode: 'sidebar',
        hostActions: [
          {
            label: 'Insert dependent cell',
            title: 'Insert "%%gbatch --depends-on <this job>" below the active notebook cell',
            run: job => void commands.execute(CommandIDs.insertDependent, { id: job.id })
          }
        ]
      });
      // remember the selection for the palette's "insert dependent cell"
      handle.el.addEventListener('click', () => {
        const details = handle.el.querySelector<HTMLElement>('.jf-details:not([hidden])');
        sidebar.selected = details?.dataset.job ? Number(details.dataset.job) : null;
      });
      return handle;
    });
    shell.add(sidebar, 'left', { rank: 750 });

    // -- job-end notifications: the jobs of this server's notebooks (their kernels' scope)
    let level: NotifyLevel = 'failures';
    const notebooks = new Map<string, string>(); // `kernel:<id>` -> notebook path
    const sessions = app.serviceManager.sessions;
    const readSessions = () => {
      notebooks.clear();
      for (const s of sessions.running()) {
        if (s.kernel && s.type === 'notebook') {
          notebooks.set(`kernel:${s.kernel.id}`, s.path);
        }
      }
    };
    sessions.runningChanged.connect(readSessions);
    readSessions();
    let notifier: JobNotifier | null = null;
    let releaseStream: (() => void) | null = null;
    const openLog = (id: number) => {
      shell.activateById(SIDEBAR_ID);
      sidebar.ensure().openLog(id);
    };
    const kernelOf = (scope: string) => {
      for (const w of shell.widgets('main')) {
        const k = isNotebook(w) ? w.sessionContext?.session?.kernel : null;
        if (k && `kernel:${k.id}` === scope) {
          return k;
        }
      }
      return null;
    };
    // a notebook's kernel going idle may end its pipeline (notify.ts)
    function watchKernel(nb: NotebookLike): void {
      const ctx = nb.sessionContext;
      if (!ctx || kernelWatched.has(ctx)) {
        return;
      }
      kernelWatched.add(ctx);
      ctx.statusChanged.connect((_, status) => {
        const id = ctx.session?.kernel?.id;
        if (status === 'idle' && id) {
          notifier?.kernelIdle(`kernel:${id}`);
        }
      });
    }
    for (const w of shell.widgets('main')) {
      if (isNotebook(w)) {
        watchKernel(w);
      }
    }
    const watchJobs = (s: Session) => {
      if (!notifier) {
        notifier = new JobNotifier(s.store, { level: () => level, notebookOf: job => notebooks.get(job.scope ?? '') ?? null,
          openLog,
          idle: scope => (kernelOf(scope)?.status ?? 'idle') === 'idle'
        });
        s.store.subscribe(change => notifier!.apply(change));
        if (s.state === 'live') {
          notifier.apply({ ids: new Set(), structure: true, reset: true }); // the sidebar had the snapshot already
        }
      }
    };
    const applyLevel = (value: unknown) => {
      level = value === 'off' || value === 'all' ? value : 'failures';
      if (level === 'off') {
        releaseStream?.();
        releaseStream = null;
        return;
      }
      session ??= new Session(labTransport());
      watchJobs(session);
      // notifications need the job stream even while the sidebar was never opened
      releaseStream ??= session.acquire();
    };
    if (settings) {
      void settings
        .load(plugin.id)
        .then(s => {
          applyLevel(s.get('notifications').composite);
          s.changed.connect(() => applyLevel(s.get('notifications').composite));
        })
        .catch(() => applyLevel('failures'));
    } else {
      applyLevel('failures');
    }
    if (restorer) {
      restorer.add(sidebar, SIDEBAR_ID);
    }

    commands.addCommand(CommandIDs.open, {
      label: 'Jobflow: Open the job panel',
      caption: 'Show the jobflow sidebar: dependency graph, jobs, logs and GPUs',
      icon: jobflowIcon,
      execute: () => {
        shell.activateById(SIDEBAR_ID);
        sidebar.ensure();
      }
    });
    commands.addCommand(CommandIDs.showTab, {
      label: args => (args.tab ? `Jobflow: Show ${String(args.tab)}` : 'Jobflow: Show a tab'),
      execute: args => {
        shell.activateById(SIDEBAR_ID);
        sidebar.ensure().showTab(String(args.tab ?? 'graph') as Tab);
      }
    });
    commands.addCommand(CommandIDs.insertDependent, {
      label: args =>
        args.id !== undefined
          ? `Jobflow: Insert a cell that depends on job ${args.id}`
          : 'Jobflow: Insert dependent cell (%%gbatch --depends-on the selected job)',
      isEnabled: args => args.id !== undefined || sidebar.selected !== null,
      execute: async args => {
        const id = args.id !== undefined ? Number(args.id) : sidebar.selected;
        if (id === null || !isFinite(id)) {
          return;
        }
        await insertDependent(id);
      }
    });
    commands.addCommand(CommandIDs.cancel, {
      label: args => (args.id !== undefined ? `Jobflow: Cancel job ${args.id}…` : 'Jobflow: Cancel the selected job…'),
      isEnabled: args => args.id !== undefined || sidebar.selected !== null,
      execute: args => {
        const id = args.id !== undefined ? Number(args.id) : sidebar.selected;
        if (id === null) {
          return;
        }
        shell.activateById(SIDEBAR_ID);
        const handle = sidebar.ensure();
        handle.select(id);
        handle.el.querySelector<HTMLButtonElement>('.jf-details [data-act="cancel"]')?.click();
      }
    });
    if (palette) {
      const category = 'Jobflow';
      palette.addItem({ command: CommandIDs.open, category });
      for (const tab of ['graph', 'jobs', 'logs', 'gpus', 'flows']) {
        palette.addItem({ command: CommandIDs.showTab, category, args: { tab } });
      }
      palette.addItem({ command: CommandIDs.insertDependent, category });
      palette.addItem({ command: CommandIDs.cancel, category });
    }
  }
};

export default plugin;
