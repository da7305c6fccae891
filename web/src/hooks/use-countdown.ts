import { useEffect, useState } from 'react';

/**
 * Whole seconds left until `deadline` (epoch ms), ticking down live and stopping at 0; null
 * while there is no deadline. Ticks a little after each second boundary so 3, 2, 1 each show
 * for a full second.
 */
export function useCountdown(deadline: number | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (deadline === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = (): void => {
      const t = Date.now();
      setNow(t);
      const left = deadline - t;
      if (left > 0) timer = setTimeout(tick, (left % 1000) + 10);
    };
    tick();
    return () => clearTimeout(timer);
  }, [deadline]);
  if (deadline === null) return null;
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}
