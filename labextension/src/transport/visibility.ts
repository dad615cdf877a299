/**
 * Whether the page is seen, for the event stream: a hidden tab is not watching, so the server
 * stops keeping Slurm's poll at its fastest for it (server/events.py). Both transports use it.
 */

/** Call `say(visible)` when the page is hidden or shown, and now if it is hidden already (a new
 * stream counts as visible). Returns the function that stops listening. */
export function followVisibility(say: (visible: boolean) => void): () => void {
  const doc = typeof document !== 'undefined' ? document : null;
  if (!doc) {
    return () => undefined;
  }
  const listener = () => say(!doc.hidden);
  doc.addEventListener('visibilitychange', listener);
  if (doc.hidden) {
    say(false);
  }
  return () => doc.removeEventListener('visibilitychange', listener);
}
