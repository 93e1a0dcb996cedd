// Debouncing of the sliders: a burst of moves is one write to the kernel, each of which may recompute.

export const DEBOUNCE_MS = 300;

/** `fn` called once `ms` after the last of a burst of calls; `.flush()` runs a pending call now. */
export function debounce(fn, ms) {
  let timer = null;
  let args = null;
  const run = () => {
    timer = null;
    fn(...args);
  };
  const wrapped = (...a) => {
    args = a;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  wrapped.flush = () => {
    if (!timer) return;
    clearTimeout(timer);
    run();
  };
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}
