/**
 * The framework-free view shared by the JupyterLab sidebar and the anywidget: no @jupyterlab or
 * lumino import anywhere under view/ (it is bundled twice: rspack for Lab, esbuild for the widget).
 */
export { mount } from './panel';
export type { PanelHandle, PanelOptions, Tab, ViewState } from './panel';
export type { HostAction } from './details';
export { Session } from './session';
export type { ConnectionState } from './session';
export { JobStore, GpuStore } from './store';
export type { Change } from './store';
export { GraphView } from './graph';
export { layout } from './layout';
export { dependencyOf, conditionStatus } from './deps';
export { injectStyle } from './css';
export * from './types';
