import { afterEach, describe, expect, it, vi } from "vitest";
import { DEBOUNCE_MS, debounce } from "../src/debounce.js";

afterEach(() => vi.useRealTimers());

describe("debounce", () => {
  it("calls once, with the last arguments of a burst, after the quiet time", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const send = debounce(fn, DEBOUNCE_MS);
    send(1);
    vi.advanceTimersByTime(DEBOUNCE_MS - 1);
    send(2);
    vi.advanceTimersByTime(DEBOUNCE_MS - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledExactlyOnceWith(2);
  });

  it("flush runs a pending call now and only once; without one it does nothing", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const send = debounce(fn, DEBOUNCE_MS);
    send.flush();
    expect(fn).not.toHaveBeenCalled();
    send("a");
    send.flush();
    expect(fn).toHaveBeenCalledExactlyOnceWith("a");
    vi.advanceTimersByTime(2 * DEBOUNCE_MS);
    send.flush();
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("cancel drops a pending call", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const send = debounce(fn, DEBOUNCE_MS);
    send(1);
    send.cancel();
    vi.advanceTimersByTime(2 * DEBOUNCE_MS);
    send.flush();
    expect(fn).not.toHaveBeenCalled();
  });
});
