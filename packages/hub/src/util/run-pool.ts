/**
 * Runs `task` over `items` with at most `concurrency` in flight. After the first failure no new
 * task starts; the ones in flight are awaited, then the first error is thrown.
 */
export async function runPool<Item>(items: readonly Item[], concurrency: number, task: (item: Item) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure !== undefined) {
    throw failure.error;
  }
}
