// Engine events arrive one by one, sometimes thousands a second (a metrics line per iteration, a
// log line, a progress tick); applying each as its own React update would re-render the page for
// every one. This hook buffers the events a filter takes and hands them over in batches, at most
// every `intervalMs` (~10 Hz): chaiNNer's useEventBacklog.

import { useEffect, useRef } from 'react';
import type { EngineEvent } from '../../../shared/events';
import type { EngineClient } from '../engine/client';

/**
 * Subscribes to `engine`'s events; those `accept` takes are buffered and passed to `flush` in arrival
 * order, one batch at most every `intervalMs` (the first event of a batch starts the clock, so an
 * idle engine costs no timers). `accept` decides the subscription: a new function (e.g. for another
 * run) resubscribes and drops what the old one had buffered; null subscribes to nothing. `flush`
 * may change on every render (the latest one is called).
 */
export function useEventBacklog<E extends EngineEvent>(
  engine: EngineClient,
  accept: ((e: EngineEvent) => e is E) | null,
  flush: (batch: E[]) => void,
  intervalMs = 100,
): void {
  const latestFlush = useRef(flush);
  useEffect(() => {
    latestFlush.current = flush;
  });
  useEffect(() => {
    if (!accept) return;
    let backlog: E[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const drain = (): void => {
      timer = null;
      const batch = backlog;
      backlog = [];
      if (batch.length > 0) latestFlush.current(batch);
    };
    const off = engine.onEvent((e) => {
      if (!accept(e)) return;
      backlog.push(e);
      timer ??= setTimeout(drain, intervalMs);
    });
    return () => {
      off();
      if (timer !== null) clearTimeout(timer);
    };
  }, [engine, accept, intervalMs]);
}
