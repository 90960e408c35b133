// A σ list as a small plot for a table cell: ln σ against step (the last level, 0, is left off a log
// axis), with the list itself in its hover text — every schedule of a comparison can be seen at a
// glance next to its FID. An SVG path of a few dozen points: a uPlot canvas per table cell would cost
// more than it shows.

import { useComputedColorScheme, useMantineTheme } from '@mantine/core';

export function SigmaSpark({
  sigmas,
  width = 120,
  height = 36,
}: {
  sigmas: number[];
  width?: number;
  height?: number;
}) {
  const theme = useMantineTheme();
  const dark = useComputedColorScheme('light') === 'dark';
  const levels = sigmas.filter((s) => s > 0);
  const fmt = (v: number): string => String(Number(v.toPrecision(3)));
  const text = `σ: ${sigmas.map(fmt).join(', ')} (${sigmas.length - 1} steps)`;
  if (levels.length === 0) return <span title={text}>—</span>;
  const logs = levels.map(Math.log);
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const pad = 3;
  const x = (i: number): number => pad + ((width - 2 * pad) * i) / Math.max(1, sigmas.length - 1);
  const y = (l: number): number => pad + ((height - 2 * pad) * (hi - l)) / Math.max(1e-9, hi - lo);
  const points = logs.map((l, i) => `${x(i).toFixed(1)},${y(l).toFixed(1)}`);
  const stroke = theme.colors.blue![dark ? 4 : 7]!;
  return (
    <svg
      width={width}
      height={height}
      role="img"
      aria-label={text}
      data-testid="sigma-spark"
      data-steps={sigmas.length - 1}
    >
      <title>{text}</title>
      <polyline points={points.join(' ')} fill="none" stroke={stroke} strokeWidth={1.5} />
      {logs.map((l, i) => (
        <circle key={i} cx={x(i)} cy={y(l)} r={1.8} fill={stroke} />
      ))}
    </svg>
  );
}
