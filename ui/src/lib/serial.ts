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
