/**
 * Phase 3 of the layered layout: the order within each layer, by barycentre sweeps down and up
 * (fewer crossings).
 */
import { Item } from './layouttypes';

/** The items of each layer, in order; sets every item's `order`. */
export function orderLayers(items: Item[], layerCount: number): number[][] {
  const layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (let k = 0; k < items.length; k++) {
    layers[items[k].layer].push(k);
  }
  // initial order: layer 0 by id; below, by the parents' order
  layers[0]?.sort((a, b) => items[a].id - items[b].id);
  layers[0]?.forEach((k, o) => (items[k].order = o));
  for (let l = 1; l < layerCount; l++) {
    sortBy(layers[l], items, 'up');
  }
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let l = layerCount - 2; l >= 0; l--) {
      sortBy(layers[l], items, 'down');
    }
    for (let l = 1; l < layerCount; l++) {
      sortBy(layers[l], items, 'up');
    }
  }
  return layers;
}

/** Order a layer by the mean order of each item's neighbours above (`up`) or below (`down`). */
function sortBy(layerItems: number[], items: Item[], dir: 'up' | 'down'): void {
  const key = new Map<number, number>();
  for (const k of layerItems) {
    const ns = items[k][dir];
    if (ns.length) {
      let s = 0;
      for (const m of ns) {
        s += items[m].order;
      }
      key.set(k, s / ns.length);
    } else {
      key.set(k, items[k].order); // no neighbour that way: stay where it is
    }
  }
  layerItems.sort((a, b) => key.get(a)! - key.get(b)! || items[a].order - items[b].order || items[a].id - items[b].id);
  layerItems.forEach((k, o) => (items[k].order = o));
}
