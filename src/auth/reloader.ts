import type { Logger } from '../telemetry/logger.ts';

/**
 * Runs a cache reload when asked, never two at once: a request during a run schedules exactly one
 * more run after it. The promise a caller gets settles after a run that started after its request.
 */
export class Reloader {
  readonly #run: () => Promise<void>;
  readonly #logger: Logger;
  readonly #what: string;
  #current: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(run: () => Promise<void>, logger: Logger, what: string) {
    this.#run = run;
    this.#logger = logger;
    this.#what = what;
  }

  trigger(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#current) return this.#start();
    this.#next = this.#current.then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  #start(): Promise<void> {
    const run = this.#run()
      .catch((err: unknown) => {
        this.#logger.error({ err }, `reloading ${this.#what} failed; keeping the previous copy`);
      })
      .finally(() => {
        if (this.#current === run) this.#current = undefined;
      });
    this.#current = run;
    return run;
  }
}
