/**
 * Resolves once `count()` has not moved for 20 ms, or after `maxMs`: how a listener (or a UDP
 * receiving thread) waits for what is still in the kernel's buffers before closing a socket.
 */
export async function drainQuiet (count: () => number, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs
  let last = -1
  while (Date.now() < end) {
    const n = count()
    if (n === last) return
    last = n
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
