/**
 * A pull-driven web stream over an async source (exports): the next chunk is produced only when
 * the client has taken the previous one, and a cancelled download stops the reading of the store.
 * A failure after the first byte cannot become a problem response any more: `onError` logs it and
 * the stream is aborted with a message that carries no internal detail.
 */
export function pullStream(
  source: AsyncIterable<string | Uint8Array>,
  onError: (error: unknown) => void,
  abortMessage: string,
): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) controller.close();
          else controller.enqueue(typeof next.value === "string" ? encoder.encode(next.value) : next.value);
        } catch (error) {
          onError(error);
          controller.error(new Error(abortMessage));
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
