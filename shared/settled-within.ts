/**
 * Waits for `work` to settle (resolved or rejected alike), but at most `ms`: for shutdowns and
 * handshakes that wait on a store or a peer that may not answer. Never rejects.
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([work.then(() => undefined, () => undefined), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
