// An unbounded queue that async loops wait on: the feed puts deliveries in, the runners
// take them; the runners put outcomes in, the reporter takes them.

/** @template T */
export class Queue {
  /** @type {T[]} */
  #items = [];
  /** @type {((item: T) => void)[]} */
  #waiting = [];

  /** @param {T} item */
  put(item) {
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter(item);
    } else {
      this.#items.push(item);
    }
  }

  /** @returns {Promise<T>} */
  get() {
    if (this.#items.length > 0) {
      return Promise.resolve(/** @type {T} */ (this.#items.shift()));
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Everything queued, taken at once (nothing waits for it any more). */
  drain() {
    return this.#items.splice(0);
  }

  get size() {
    return this.#items.length;
  }
}
