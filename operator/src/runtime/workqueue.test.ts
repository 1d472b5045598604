import { describe, expect, it } from "vitest";
import { ItemBackoff, WorkQueue } from "./workqueue.ts";

describe("WorkQueue", () => {
  it("when a key is added many times before it is processed, then it is handed out once", async () => {
    const queue = new WorkQueue();
    queue.add("coll/rennes");
    queue.add("coll/rennes");
    queue.add("coll/brest");
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe("coll/rennes");
    expect(await queue.get()).toBe("coll/brest");
  });

  it("when a key is added while it is processed, then it is not handed to a second worker but comes back after done", async () => {
    const queue = new WorkQueue();
    queue.add("rennes");
    const first = await queue.get();
    queue.add("rennes");
    expect(queue.length).toBe(0);
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBeUndefined();
    queue.done(first!);
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBe("rennes");
  });

  it("when the queue shuts down with a key in flight, then it waits for that key and stops handing out keys", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    const key = await queue.get();
    let drained = false;
    const drain = queue.shutDownWithDrain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    queue.done(key!);
    await drain;
    expect(await queue.get()).toBeUndefined();
  });

  it("when addAfter is called twice, then the earlier time wins", async () => {
    const queue = new WorkQueue();
    queue.addAfter("k", 10_000);
    queue.addAfter("k", 5);
    expect(await queue.get()).toBe("k");
  });
});

describe("ItemBackoff", () => {
  it("when an item keeps failing, then its delay doubles up to the cap, and forget resets it", () => {
    const backoff = new ItemBackoff({ baseMs: 5, maxMs: 40 });
    expect([1, 2, 3, 4, 5].map(() => backoff.when("x"))).toEqual([5, 10, 20, 40, 40]);
    expect(backoff.when("y")).toBe(5);
    backoff.forget("x");
    expect(backoff.when("x")).toBe(5);
  });
});
