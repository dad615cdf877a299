/**
 * The panel's style, injected once per document, so the sidebar, the widget in JupyterLab and the
 * widget elsewhere (VS Code, Notebook 7) look the same without a CSS loader. JupyterLab's theme
 * variables are used where present (light and dark themes), with plain fallbacks.
 */
// the package's states.json: the same relative path from src/view, from tsc's lib/view, and for esbuild
import STATES from '../../../jupyter_jobflow/core/states.json';
import { FLOWS_CSS } from './flowcss';

type StateStyle = { colour: string; tint: string; dark: { colour: string; tint: string } };
/** each state's colour and tint: the one definition, shared with the Python side */
const STATE_RULES = Object.entries(STATES as Record<string, StateStyle>)
  .map(([code, s]) => `.jobflow-root .s-${code} { --jf-c: ${s.colour}; --jf-t: ${s.tint}; }`)
  .join('\n');
/** dark themes (JupyterLab's, VS Code's): lighter state colours, for contrast */
const DARK_STATE_RULES = Object.entries(STATES as Record<string, StateStyle>)
  .map(
    ([code, s]) =>
      `body[data-jp-theme-light="false"] .jobflow-root .s-${code}, .vscode-dark .jobflow-root .s-${code} { --jf-c: ${s.dark.colour}; --jf-t: ${s.dark.tint}; }`
  )
  .join('\n');

const CSS = `
.jobflow-root {
  --jf-fg: var(--jp-ui-font-color1, #1f1f1f);
  --jf-fg2: var(--jp-ui-font-color2, #5f5f5f);
  --jf-bg: var(--jp-layout-color1, #fff);
  --jf-bg2: var(--jp-layout-color2, #f3f3f3);
  --jf-border: var(--jp-border-color2, #e0e0e0);
  --jf-border1: var(--jp-border-color1, #bdbdbd);
  --jf-accent: var(--jp-brand-color1, #1976d2);
  --jf-mono: var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, Consolas, monospace);
  --jf-font: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  font-family: var(--jf-font);
  font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jf-fg);
  background: var(--jf-bg);
  box-sizing: border-box;
}
.jobflow-root.jf-dialog-holder { position: absolute; width: 0; height: 0; overflow: visible; background: none; }
.jobflow-root *, .jobflow-root *::before, .jobflow-root *::after { box-sizing: border-box; }
${STATE_RULES}

.jobflow-root.jobflow-panel { display: flex; flex-direction: column; position: relative; min-height: 240px; border: 1px solid var(--jf-border); border-radius: 4px; overflow: hidden; }
.jobflow-root.jobflow-panel.jf-resizable { resize: vertical; max-height: none; }
.jobflow-root.jobflow-panel.jf-mode-sidebar { height: 100%; border: 0; border-radius: 0; }
.jf-header { flex: none; padding: 6px 8px 0; border-bottom: 1px solid var(--jf-border); background: var(--jf-bg2); }
.jf-header-top { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; min-height: 22px; }
.jf-title { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 60%; }
.jf-note { color: var(--jf-fg2); font-size: 11px; margin-top: 2px; }
.jf-conn { display: inline-flex; align-items: center; gap: 4px; color: var(--jf-fg2); font-size: 11px; white-space: nowrap; }
.jf-dot { width: 8px; height: 8px; border-radius: 50%; background: #a0aec0; display: inline-block; }
.jf-conn[data-state="live"] .jf-dot { background: #38a169; box-shadow: 0 0 0 2px rgba(56,161,105,0.2); }
.jf-conn[data-state="connecting"] .jf-dot, .jf-conn[data-state="reconnecting"] .jf-dot { background: #d69e2e; animation: jf-blink 1s infinite; }
.jf-conn[data-state="offline"] .jf-dot { background: #e53e3e; }
.jf-counts { display: inline-flex; gap: 4px; flex-wrap: wrap; margin-left: auto; }
.jf-badge { display: inline-block; min-width: 22px; padding: 0 5px; border-radius: 9px; font-size: 11px; line-height: 17px; text-align: center; font-weight: 600;
  color: var(--jf-c, var(--jf-fg2)); background: var(--jf-t, var(--jf-bg2)); border: 1px solid var(--jf-c, var(--jf-border1)); white-space: nowrap; }
.jf-tabs { display: flex; gap: 2px; margin-top: 6px; }
.jf-tab { border: 1px solid transparent; border-bottom: 0; background: transparent; color: var(--jf-fg2); padding: 4px 12px; cursor: pointer; border-radius: 4px 4px 0 0; font: inherit; }
.jf-tab:hover { color: var(--jf-fg); }
.jf-tab.on { background: var(--jf-bg); border-color: var(--jf-border); color: var(--jf-fg); font-weight: 600; margin-bottom: -1px; }
.jf-body { flex: 1 1 auto; min-height: 0; position: relative; }
.jf-page { position: absolute; inset: 0; display: flex; flex-direction: column; overflow: hidden; }
.jf-page[hidden] { display: none; }
.jf-page-graph { flex-direction: row; }
.jobflow-root.jf-mode-sidebar .jf-page-graph { flex-direction: column; }

/* buttons and inputs */
.jf-btn { font: inherit; font-size: 12px; color: var(--jf-fg); background: var(--jp-layout-color0, #fff); border: 1px solid var(--jf-border1); border-radius: 3px; padding: 2px 9px; cursor: pointer; line-height: 18px; }
.jf-btn:hover { border-color: var(--jf-accent); color: var(--jf-accent); }
.jf-btn:disabled { opacity: 0.5; cursor: default; }
.jf-btn.jf-small { padding: 0 6px; font-size: 11px; line-height: 17px; }
.jf-icon-btn { padding: 0; width: 24px; height: 24px; line-height: 22px; text-align: center; font-size: 14px; }
.jf-danger { background: #c53030; border-color: #c53030; color: #fff; }
.jf-danger:hover { background: #9b2c2c; color: #fff; border-color: #9b2c2c; }
.jf-danger-outline { color: #c53030; border-color: #e0a0a0; }
.jf-input { font: inherit; font-size: 12px; color: var(--jf-fg); background: var(--jp-layout-color0, #fff); border: 1px solid var(--jf-border1); border-radius: 3px; padding: 2px 6px; height: 24px; }
.jf-toolbar { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; padding: 6px 8px; border-bottom: 1px solid var(--jf-border); flex: none; }
.jf-toolbar input[type="search"] { min-width: 120px; flex: 1 1 160px; max-width: 260px; }
.jf-chips { display: inline-flex; gap: 2px; }
.jf-chip { font: inherit; font-size: 11px; font-weight: 600; padding: 0 6px; line-height: 18px; border-radius: 9px; cursor: pointer; color: var(--jf-c); background: transparent; border: 1px solid var(--jf-border1); }
.jf-chip.on { background: var(--jf-t); border-color: var(--jf-c); }
.jf-count { color: var(--jf-fg2); font-size: 11px; margin-left: auto; }
.jf-mono { font-family: var(--jf-mono); font-size: 12px; }

/* the graph */
.jf-graph { position: relative; flex: 1 1 auto; min-width: 0; min-height: 120px; overflow: hidden; background:
  radial-gradient(circle, var(--jf-border) 1px, transparent 1px) 0 0 / 18px 18px, var(--jf-bg); }
.jf-graph-svg { width: 100%; height: 100%; display: block; cursor: grab; user-select: none; touch-action: none; }
.jf-graph-svg.jf-panning { cursor: grabbing; }
.jf-empty { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; color: var(--jf-fg2); pointer-events: none; padding: 16px; text-align: center; }
.jf-node { cursor: pointer; }
.jf-node .jf-box { fill: var(--jf-t); fill: color-mix(in srgb, var(--jf-c) 14%, var(--jf-bg)); stroke: var(--jf-c); stroke-width: 1.2; }
.jf-node .jf-band { fill: var(--jf-c); }
.jf-node text { font-family: var(--jf-font); pointer-events: none; }
.jf-node .jf-t1 { font-size: 12.5px; font-weight: 600; fill: var(--jf-fg); }
.jf-node .jf-id { fill: var(--jf-fg2); font-weight: 500; }
.jf-node .jf-t2 { font-size: 11px; fill: var(--jf-c); font-weight: 500; }
.jf-node:hover .jf-box { stroke-width: 2; }
.jf-node.sel .jf-box { stroke-width: 2.6; stroke: var(--jf-accent); }
.jf-node.never .jf-box { stroke: #c53030; stroke-dasharray: 4 3; stroke-width: 1.8; }
.jf-node.s-CA .jf-t1 { fill: var(--jf-fg2); text-decoration: line-through; }
.jf-node.s-R .jf-band { animation: jf-pulse 1.6s ease-in-out infinite; }
.jf-far .jf-node.s-R .jf-band, .jf-big .jf-node.s-R .jf-band { animation: none; }
.jf-edge { fill: none; stroke: #8a94a6; stroke-width: 1.4; marker-end: var(--jf-arrow-wait, none); }
.jf-edge.met { stroke: #38a169; marker-end: var(--jf-arrow-met, none); }
.jf-edge.never { stroke: #e53e3e; stroke-opacity: 0.55; marker-end: var(--jf-arrow-never, none); }
.jf-edge.or { marker-end: none; }
.jf-edge.t-afternotok { stroke-dasharray: 7 4; }
.jf-edge.t-afterany { stroke-dasharray: 1.5 3.5; stroke-linecap: round; stroke-width: 1.8; }
.jf-edge.t-after { stroke-dasharray: 12 4; }
.jf-edge.t-aftercorr { stroke-dasharray: 8 3 2 3; }
.jf-edge.hl { stroke-width: 2.6; stroke-opacity: 1; }
.jf-arrow path { fill: #8a94a6; }
.jf-arrow.met path { fill: #38a169; }
.jf-arrow.never path { fill: #e53e3e; }
.jf-or circle { fill: var(--jf-bg); stroke: #8a94a6; stroke-width: 1.3; }
.jf-or text { font-size: 9px; font-weight: 700; text-anchor: middle; fill: var(--jf-fg2); font-family: var(--jf-font); }
.jf-or.met circle { stroke: #38a169; }
.jf-or.never circle { stroke: #e53e3e; }
.jf-or-stub { stroke: #8a94a6; stroke-width: 1.4; marker-end: var(--jf-arrow-wait, none); }
.jf-or.met .jf-or-stub { stroke: #38a169; marker-end: var(--jf-arrow-met, none); }
.jf-or.never .jf-or-stub { stroke: #e53e3e; marker-end: var(--jf-arrow-never, none); }
.jf-far .jf-node text, .jf-far .jf-or text { display: none; }
.jf-far .jf-edge, .jf-far .jf-or-stub { marker-end: none; }
.jf-far .jf-node .jf-box { fill: var(--jf-t); stroke-width: 3; }
.jf-tip { position: absolute; z-index: 3; pointer-events: none; background: var(--jp-layout-color0, #fff); color: var(--jf-fg); border: 1px solid var(--jf-border1);
  border-radius: 3px; padding: 4px 7px; font-size: 11.5px; white-space: pre-line; max-width: 360px; box-shadow: 0 2px 8px rgba(0,0,0,0.15); }
.jf-tip[hidden] { display: none; }
.jf-find { position: absolute; top: 6px; left: 6px; display: flex; align-items: center; gap: 6px; }
.jf-find input { width: 170px; background: var(--jf-bg); opacity: 0.95; }
.jf-find-count { font-size: 11px; color: var(--jf-fg2); background: var(--jf-bg); padding: 0 3px; border-radius: 3px; }
.jf-find-count:empty { display: none; }
.jf-dim .jf-node:not(.match), .jf-dim .jf-edge, .jf-dim .jf-or { opacity: 0.22; }
.jf-dim .jf-node.match .jf-box { stroke-width: 2.4; }
.jf-zoom { position: absolute; top: 6px; right: 6px; display: flex; flex-direction: column; gap: 3px; }
.jf-zoom .jf-btn { background: var(--jf-bg); opacity: 0.9; }
.jf-legend { position: absolute; left: 6px; bottom: 6px; background: var(--jf-bg); border: 1px solid var(--jf-border); border-radius: 4px; font-size: 11px; color: var(--jf-fg2); max-width: calc(100% - 12px); opacity: 0.95; }
.jf-legend summary { cursor: pointer; padding: 2px 8px; }
.jf-legend > div { padding: 2px 8px 6px; }
.jf-key-row { display: flex; flex-wrap: wrap; gap: 4px 10px; margin-top: 3px; align-items: center; }
.jf-key { display: inline-flex; align-items: center; gap: 3px; }
.jf-key i { width: 11px; height: 11px; border-radius: 2px; background: var(--jf-t); border: 1.5px solid var(--jf-c); display: inline-block; }
.jf-key-edge { display: inline-flex; align-items: center; gap: 3px; }
.jf-key-edge svg { overflow: visible; }
.jf-key-edge .jf-edge { marker-end: none; }

/* details */
.jf-details { flex: none; width: 300px; border-left: 1px solid var(--jf-border); overflow: auto; padding: 8px 10px; background: var(--jf-bg); }
.jobflow-root.jf-mode-sidebar .jf-details { width: auto; max-height: 48%; border-left: 0; border-top: 1px solid var(--jf-border); }
.jf-details[hidden] { display: none; }
.jf-details-head { display: flex; align-items: center; gap: 6px; margin-bottom: 6px; }
.jf-details-title { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.jf-close { border: 0; background: transparent; }
.jf-props { border-collapse: collapse; margin: 0 0 8px; width: 100%; table-layout: fixed; }
.jf-props th { color: var(--jf-fg2); font-weight: normal; text-align: left; vertical-align: top; padding: 2px 8px 2px 0; width: 86px; white-space: nowrap; }
.jf-props td { padding: 2px 0; vertical-align: top; overflow-wrap: anywhere; }
.jf-cmd { display: block; max-height: 4.5em; overflow: hidden; }
.jf-deplist { list-style: none; margin: 0; padding: 0; }
.jf-deplist li { margin: 1px 0; }
.jf-dep-or { color: var(--jf-fg2); font-style: italic; }
.jf-dep-mark { display: inline-block; width: 12px; font-weight: 700; }
.jf-dep.met .jf-dep-mark { color: #38a169; }
.jf-dep.never .jf-dep-mark { color: #e53e3e; }
.jf-dep .jf-badge { margin-left: 4px; }
.jf-joblink { color: var(--jf-accent); text-decoration: none; }
.jf-joblink:hover { text-decoration: underline; }
.jf-explain { margin: 6px 0; }
.jf-explain-h { color: var(--jf-fg2); margin-bottom: 2px; }
.jf-explain pre { margin: 0; white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; font-family: var(--jf-mono); font-size: 11.5px; background: var(--jf-bg2); padding: 6px; border-radius: 3px; }
.jf-details-actions { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }

/* the table */
.jf-table-wrap { display: flex; flex-direction: column; height: 100%; }
.jf-table-scroll { flex: 1; overflow: auto; }
.jf-table { border-collapse: collapse; width: 100%; font-size: 12px; }
.jf-table th { position: sticky; top: 0; background: var(--jf-bg2); text-align: left; font-weight: 600; padding: 4px 6px; border-bottom: 1px solid var(--jf-border1); cursor: pointer; white-space: nowrap; user-select: none; z-index: 1; }
.jf-table th.sorted[data-dir="asc"]::after { content: " ▲"; font-size: 9px; }
.jf-table th.sorted[data-dir="desc"]::after { content: " ▼"; font-size: 9px; }
.jf-table td { padding: 3px 6px; border-bottom: 1px solid var(--jf-border); white-space: nowrap; max-width: 220px; overflow: hidden; text-overflow: ellipsis; }
.jf-table tbody tr { cursor: pointer; }
.jf-table tbody tr:hover { background: var(--jf-bg2); }
.jf-table tbody tr.sel { background: rgba(25,118,210,0.10); }
.jf-table .jf-num { text-align: right; font-variant-numeric: tabular-nums; }
.jf-table .jf-deps { font-family: var(--jf-mono); font-size: 11px; }
.jf-table .jf-reason { color: var(--jf-fg2); }
.jf-table .jf-reason.never { color: #c53030; font-weight: 600; }
.jf-row-actions { text-align: right; }
.jf-row-actions .jf-btn { margin-left: 3px; }
.jf-norows td { text-align: center; color: var(--jf-fg2); padding: 16px; }
.jf-table-wrap { position: relative; }
.jf-row-menu-btn { display: none; }
.jf-menu { position: absolute; z-index: 6; display: flex; flex-direction: column; min-width: 120px; padding: 3px 0; background: var(--jp-layout-color0, #fff);
  border: 1px solid var(--jf-border1); border-radius: 4px; box-shadow: 0 4px 14px rgba(0,0,0,0.22); }
.jf-menu[hidden] { display: none; }
.jf-menu-item { font: inherit; font-size: 12.5px; text-align: left; color: var(--jf-fg); background: none; border: 0; padding: 4px 14px; cursor: pointer; }
.jf-menu-item:hover, .jf-menu-item:focus { background: var(--jf-bg2); outline: none; color: var(--jf-accent); }

/* narrow (the sidebar at its default width): the columns that matter first and the actions in a row menu */
.jobflow-root.jf-narrow .jf-table { table-layout: fixed; }
.jobflow-root.jf-tiny .jf-table .jf-col-reason, .jobflow-root.jf-narrow .jf-table .jf-col-group, .jobflow-root.jf-narrow .jf-table .jf-col-gpus,
.jobflow-root.jf-narrow .jf-table .jf-col-deps, .jobflow-root.jf-narrow .jf-table .jf-col-elapsed, .jobflow-root.jf-narrow .jf-table .jf-col-submitted { display: none; }
.jobflow-root.jf-narrow .jf-table th.jf-col-id { width: 44px; }
.jobflow-root.jf-narrow .jf-table th.jf-col-code { width: 44px; }
.jobflow-root.jf-narrow .jf-table th.jf-actions-h { width: 34px; }
.jobflow-root.jf-narrow .jf-table td { max-width: none; padding: 3px 4px; }
.jobflow-root.jf-narrow .jf-row-btns { display: none; }
.jobflow-root.jf-narrow .jf-row-menu-btn { display: inline-block; padding: 0 5px; font-size: 13px; line-height: 16px; }
.jobflow-root.jf-narrow .jf-toolbar input[type="search"] { min-width: 0; flex: 1 1 100%; max-width: none; }
.jobflow-root.jf-narrow .jf-tab { padding: 4px 6px; }
.jobflow-root.jf-narrow .jf-find input { width: 150px; }

/* logs */
.jf-logs { display: flex; flex-direction: column; height: 100%; min-height: 0; }
.jf-logs .jf-toolbar select:first-child { max-width: 220px; }
.jf-log-status { padding: 3px 8px; font-size: 11.5px; color: var(--jf-c, var(--jf-fg2)); border-bottom: 1px solid var(--jf-border); flex: none; }
.jf-log-status:empty { display: none; }
.jf-log { position: relative; flex: 1; margin: 0; overflow: auto; padding: 6px 8px; font-family: var(--jf-mono); font-size: 12px; line-height: 1.4; white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere;
  background: var(--jp-cell-editor-background, #f7f7f7); color: var(--jp-content-font-color1, #111); min-height: 60px; }
.jf-log.jf-msg { color: var(--jf-fg2); font-family: var(--jf-font); font-style: italic; }
.jf-log mark { background: #fbd38d; color: #000; border-radius: 2px; }
.jf-log mark.current { background: #f6ad55; outline: 2px solid #dd6b20; }
.jf-follow { display: inline-flex; align-items: center; gap: 3px; font-size: 12px; white-space: nowrap; }
.jf-hits { font-size: 11px; color: var(--jf-fg2); white-space: nowrap; }
.jf-hits.none { color: #c53030; }

/* GPUs */
.jf-gpus { height: 100%; overflow: auto; padding: 8px; }
.jf-gpu-list { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 260px), 1fr)); gap: 8px; }
.jf-gpu { border: 1px solid var(--jf-border); border-radius: 4px; padding: 6px 8px; background: var(--jf-bg); min-width: 0; overflow-wrap: anywhere; }
.jf-gpu-title { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.jf-gpu-name { color: var(--jf-fg2); font-size: 12px; }
.jf-tag { font-size: 10px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.03em; padding: 0 5px; border-radius: 3px; line-height: 16px; }
.jf-tag.sim { color: #805ad5; border: 1px dashed #805ad5; }
.jf-tag.err { color: #c53030; border: 1px solid #c53030; }
.jf-gpu-figures { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 12px; margin: 3px 0; font-variant-numeric: tabular-nums; }
.jf-util::before, .jf-mem::before { content: ""; display: inline-block; width: 10px; height: 3px; margin: 0 4px 3px 0; vertical-align: middle; }
.jf-util::before { background: #3182ce; }
.jf-mem::before { background: #805ad5; }
.jf-gpu-chart svg { width: 100%; height: auto; display: block; }
.jf-chart .jf-grid { stroke: var(--jf-border); stroke-width: 1; }
.jf-chart .jf-grid.v { stroke-dasharray: 2 3; }
.jf-chart .jf-util-area { fill: rgba(49,130,206,0.15); stroke: none; }
.jf-chart .jf-util-line { fill: none; stroke: #3182ce; stroke-width: 1.6; }
.jf-chart .jf-mem-line { fill: none; stroke: #805ad5; stroke-width: 1.6; stroke-dasharray: 5 2; }
.jf-chart .jf-axis { font-size: 9px; fill: var(--jf-fg2); font-family: var(--jf-font); }
.jf-chart .jf-nodata { font-size: 11px; fill: var(--jf-fg2); text-anchor: middle; font-family: var(--jf-font); }
.jf-gpu-holders { font-size: 12px; color: var(--jf-fg2); margin-top: 3px; }
.jf-holder { color: var(--jf-fg); }
.jf-holder.k-job { font-weight: 600; }
.jf-idle { color: #2f855a; }
.jf-empty-note { color: var(--jf-fg2); padding: 12px; }

/* toasts and the dialog */
.jf-toasts { position: absolute; right: 8px; bottom: 8px; display: flex; flex-direction: column; gap: 4px; z-index: 5; pointer-events: none; max-width: 70%; }
.jf-toast { background: #2d3748; color: #fff; padding: 5px 10px; border-radius: 4px; font-size: 12px; box-shadow: 0 2px 6px rgba(0,0,0,0.2); overflow-wrap: anywhere; }
.jf-toast.error { background: #c53030; }
.jf-dialog { border: 1px solid var(--jf-border1); border-radius: 6px; padding: 14px 16px; min-width: 340px; max-width: min(640px, 92vw); box-shadow: 0 10px 30px rgba(0,0,0,0.25); }
.jf-dialog::backdrop { background: rgba(0,0,0,0.3); }
.jf-dialog h3 { margin: 0 0 8px; font-size: 15px; }
.jf-dialog p { margin: 6px 0; }
.jf-dialog .jf-dependents { margin: 4px 0 8px; }
.jf-dialog .jf-dependents th { cursor: default; }
.jf-dialog .jf-dependents td { white-space: normal; max-width: none; }
.jf-dialog .jf-dependents tr.bad td { color: #c53030; }
.jf-dialog .jf-report pre { font-family: var(--jf-mono); font-size: 11.5px; white-space: pre-wrap; background: var(--jf-bg2); padding: 6px; max-height: 200px; overflow: auto; }
.jf-dialog .jf-warning { color: #b7791f; }
.jf-cascade { display: block; margin: 6px 0; font-size: 12px; }
.jf-dialog-buttons { display: flex; justify-content: flex-end; gap: 8px; margin-top: 12px; }
.jf-dialog-buttons .jf-btn { padding: 4px 14px; font-size: 13px; }

/* the compact view under a %%gbatch cell */
.jobflow-root.jobflow-compact { border-left: 3px solid var(--jf-border1); padding: 4px 8px; position: relative; }
.jf-compact-head { display: flex; align-items: flex-start; gap: 8px; }
.jf-compact-lines { flex: 0 1 auto; min-width: 0; }
.jf-compact-line { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; min-height: 24px; }
.jf-compact-state { color: var(--jf-c); }
.jf-compact-time, .jf-compact-gpu { color: var(--jf-fg2); font-variant-numeric: tabular-nums; }
.jf-compact-deps { color: var(--jf-fg2); font-size: 12px; display: inline-flex; gap: 4px; align-items: center; }
.jf-compact-deps .jf-dep { border: 1px solid var(--jf-border1); border-radius: 3px; padding: 0 4px; }
.jf-compact-deps .jf-dep.met { border-color: #38a169; color: #2f855a; }
.jf-compact-deps .jf-dep.never { border-color: #e53e3e; color: #c53030; }
.jf-compact-actions { display: inline-flex; gap: 4px; }
.jf-compact-log { height: 220px; margin-top: 4px; border: 1px solid var(--jf-border); border-radius: 3px; overflow: hidden; }
.jf-compact-log[hidden] { display: none; }
.jobflow-root.jobflow-compact .jf-conn { margin-top: 4px; }
`;

const KEYFRAMES = `
${DARK_STATE_RULES}
@keyframes jf-blink { 50% { opacity: 0.3; } }
@keyframes jf-pulse { 50% { opacity: 0.35; } }
`;

/** Every rule under `.jobflow-root`, so JupyterLab's output-area rules (`pre`, `table`) do not win. */
function scoped(css: string): string {
  // comments go first: one before a `.jobflow-root…` rule would read as part of its selector
  return css.replace(/\/\*[\s\S]*?\*\//g, '').replace(/([^{}]+)\{([^{}]*)\}/g, (_m, sel: string, body: string) => {
    const selectors = sel
      .split(',')
      .map(x => x.trim())
      .filter(Boolean)
      .map(x => (x.startsWith('.jobflow-root') ? x : `.jobflow-root ${x}`));
    return `${selectors.join(', ')} {${body}}\n`;
  });
}

const ID = 'jupyter-jobflow-style';

export function injectStyle(doc: Document): void {
  if (doc.getElementById(ID)) {
    return;
  }
  const style = doc.createElement('style');
  style.id = ID;
  style.textContent = scoped(CSS + FLOWS_CSS) + KEYFRAMES;
  doc.head.appendChild(style);
}
