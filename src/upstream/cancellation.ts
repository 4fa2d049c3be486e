type Listener = () => void;

/**
 * The cancellation of one request: a flag and the callbacks to run when it is set. Every call gets one,
 * so it does what an AbortController would without an EventTarget per request. It also speaks the
 * small EventEmitter dialect undici accepts as a request `signal` (`aborted`, `on`/`once`/
 * `removeListener('abort')`); `signal` makes a real AbortSignal for the rare API that needs one.
 */
export class Cancellation {
  #cancelled = false;
  #listeners: Listener[] | undefined;
  #controller: AbortController | undefined;

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Same as `cancelled`, under the name signal consumers read. */
  get aborted(): boolean {
    return this.#cancelled;
  }

  /** Runs `listener` once when cancelled (at once if it already is). */
  onCancel(listener: Listener): void {
    if (this.#cancelled) listener();
    else if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  offCancel(listener: Listener): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const i = listeners.indexOf(listener);
    if (i !== -1) listeners.splice(i, 1);
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
    this.#controller?.abort();
  }

  /** An AbortSignal that follows this cancellation (made on first use). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  // The EventEmitter dialect: only 'abort' is ever emitted.
  on(event: string, listener: Listener): this {
    if (event === 'abort') this.onCancel(listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    return this.on(event, listener);
  }

  removeListener(event: string, listener: Listener): this {
    if (event === 'abort') this.offCancel(listener);
    return this;
  }
}
