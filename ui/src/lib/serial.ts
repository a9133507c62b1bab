/**
 * One run of `task` at a time: a call while it runs asks for exactly one
 * more run when it ends (however many calls came meanwhile), so the last
 * call is always followed by a run that saw its cause. The returned promise
 * settles when the runs it led to are done.
 */
export function serial(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await task();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

/**
 * Calls of `run` that follow a change elsewhere: at once while what `run`
 * refreshes held still, at most once every `every` ms (the first call of
 * the pause starts its wait, later ones join it) while it keeps changing.
 * `changed()` says it just changed; `cancel()` drops a waiting run.
 */
export function paced(run: () => void, every: number, now: () => number = () => performance.now()) {
  let changedAt = -Infinity;
  let waiting: ReturnType<typeof setTimeout> | undefined;
  return {
    changed() {
      changedAt = now();
    },
    request() {
      if (waiting) return;
      const wait = changedAt + every - now();
      if (wait <= 0) run();
      else waiting = setTimeout(() => { waiting = undefined; run(); }, wait);
    },
    cancel() {
      clearTimeout(waiting);
      waiting = undefined;
    },
  };
}
