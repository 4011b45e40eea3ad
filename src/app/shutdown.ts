/**
 * What was opened, closed in reverse: the same path when building the app fails half-way and when
 * the app closes. Each part registers its close as soon as it is open.
 */
export class ShutdownStack {
  private readonly closers: (() => unknown)[] = []

  defer(close: () => unknown): void {
    this.closers.push(close)
  }

  /** Closes everything, last opened first. One failing does not keep the rest open; the first failure is thrown. */
  async close(): Promise<void> {
    let failure: { err: unknown } | undefined
    for (let close = this.closers.pop(); close; close = this.closers.pop()) {
      try {
        await close()
      } catch (err) {
        failure ??= { err }
      }
    }
    if (failure) throw failure.err
  }
}
