/**
 * The Flows tab's style (css.ts scopes and injects it with the rest): two columns (flows and runs
 * beside the picked run) when wide, one scrolling column in the narrow sidebar, never sideways.
 */
export const FLOWS_CSS = `
.jf-flows { flex: 1 1 auto; min-height: 0; display: grid; grid-template-columns: minmax(230px, 38%) minmax(0, 1fr); }
.jf-flows-side { min-width: 0; overflow-y: auto; overflow-x: hidden; border-right: 1px solid var(--jf-border); }
.jf-flows-title { font-weight: 600; margin-right: auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.jf-flows-empty { padding: 8px; color: var(--jf-fg2); font-size: 12px; overflow-wrap: anywhere; }
.jf-flows-empty.jf-error { color: #c53030; }
.jf-flow-table, .jf-run-table { table-layout: fixed; }
.jf-flow-table .jf-col-version { width: 44px; }
.jf-flow-table .jf-col-tasks { width: 62px; }
.jf-run-table .jf-col-type { width: 58px; }
.jf-run-table .jf-col-state { width: 82px; }
.jf-run-table .jf-col-took { width: 52px; text-align: right; }
.jf-run-table .jf-col-reason, .jf-run-uuid { color: var(--jf-fg2); }
.jf-run-uuid { font-family: var(--jf-mono); font-size: 11px; }
.jf-run-table td, .jf-flow-table td { max-width: none; }
.jf-run { min-width: 0; min-height: 0; display: flex; flex-direction: column; }
.jf-run-head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; padding: 6px 8px 0; min-width: 0; }
.jf-run-id { font-family: var(--jf-mono); font-size: 11.5px; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1 1 120px; }
.jf-run-reason, .jf-run-took { color: var(--jf-fg2); font-size: 12px; }
.jf-run-actions .jf-resume-mode { max-width: 170px; min-width: 0; }
.jf-task-graph { flex: 1 1 55%; min-height: 160px; border-bottom: 1px solid var(--jf-border); }
.jf-task-line { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; padding: 4px 8px; font-size: 12px; border-bottom: 1px solid var(--jf-border); min-width: 0; overflow-wrap: anywhere; }
.jf-hint { color: var(--jf-fg2); }
.jf-run-logs { flex: 1 1 45%; min-height: 120px; display: flex; flex-direction: column; }
.jf-run-logs select { min-width: 0; max-width: 160px; }
.jobflow-root.jf-narrow .jf-flows { display: block; overflow-y: auto; overflow-x: hidden; }
.jobflow-root.jf-narrow .jf-flows-side { border-right: 0; overflow: visible; border-bottom: 1px solid var(--jf-border); }
.jobflow-root.jf-narrow .jf-run-table .jf-col-type { display: none; }
.jobflow-root.jf-narrow .jf-run-table .jf-col-state { width: 74px; }
.jobflow-root.jf-narrow .jf-task-graph { flex: none; height: 260px; }
.jobflow-root.jf-narrow .jf-run-logs { flex: none; height: 240px; }
.jobflow-root.jf-tiny .jf-tab { padding: 4px 4px; }
.jf-run-grid { border-bottom: 1px solid var(--jf-border); min-width: 0; }
.jf-schedule-line { margin-right: auto; min-width: 0; font-size: 12px; color: var(--jf-fg2); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.jf-grid-box { overflow-x: auto; overflow-y: hidden; max-width: 100%; padding: 0 8px 6px 0; }
.jf-grid { border-collapse: collapse; font-size: 11px; }
.jf-grid th { font-weight: normal; color: var(--jf-fg2); white-space: nowrap; padding: 1px 2px; }
.jf-grid th.jf-grid-task { text-align: left; padding-left: 8px; max-width: 90px; z-index: 1; overflow: hidden; text-overflow: ellipsis; position: sticky; left: 0; background: var(--jf-bg, inherit); }
.jf-grid th.jf-grid-col { border-top: 3px solid var(--jf-c); font-family: var(--jf-mono); }
.jf-grid td { padding: 1px 2px; text-align: center; }
.jf-grid-cell { display: inline-block; width: 14px; height: 14px; border-radius: 3px; background: var(--jf-c); cursor: pointer; vertical-align: middle; }
.jf-grid-cell[data-state='Skipped'] { opacity: 0.45; }
.jf-grid-cell:focus-visible { outline: 2px solid var(--jf-fg); }
.jf-backfill-range { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0; }
.jf-schedule-fields { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 6px 12px; margin: 6px 0; }
.jf-schedule-fields label { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.jf-schedule-fields .jf-input { flex: 1; min-width: 0; }
.jf-next-ticks { margin: 2px 0 8px; padding-left: 18px; }
.jf-backfill-ticks tr.jf-create td { font-weight: 600; }
`;
