// A screen of heavy items (ten charts of thousands of points each) mounted at once is one long
// task: the page cannot answer until every item has computed and drawn. Showing one more item per
// task keeps each task short; what is not shown yet keeps its place (the caller draws a
// placeholder of the same size).

import { useEffect, useState } from 'react';

/** How many of `total` items to show: none at first, then one more in each following task. */
export function useStaggered(total: number): number {
  const [shown, setShown] = useState(0);
  useEffect(() => {
    if (shown >= total) return;
    const timer = setTimeout(() => setShown((n) => n + 1), 0);
    return () => clearTimeout(timer);
  }, [shown, total]);
  return Math.min(shown, total);
}
