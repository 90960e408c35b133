// The learned profile (the paper's Figure 2): the share of each action (columns) at each noise
// level (rows, high σ at the top), as a heat map.

import { useEffect, useRef } from 'react';
import { Text } from '@mantine/core';

export function ProfileHeatmap({
  actions,
  sigmas,
  profile,
}: {
  actions: number[];
  sigmas: number[];
  profile: number[][];
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const cell = 22;
    const L = 52,
      T = 18;
    c.width = L + actions.length * cell;
    c.height = T + profile.length * cell;
    const g = c.getContext('2d')!;
    g.clearRect(0, 0, c.width, c.height);
    g.font = '10px sans-serif';
    g.fillStyle = '#868e96';
    actions.forEach((a, j) => g.fillText(String(a), L + j * cell + 2, 12));
    profile.forEach((row, i) => {
      g.fillStyle = '#868e96';
      g.fillText(`σ ${sigmas[i]!.toPrecision(2)}`, 0, T + i * cell + 14);
      row.forEach((p, j) => {
        // White → deep blue with the share.
        const v = Math.round(255 * (1 - p));
        g.fillStyle = `rgb(${v}, ${Math.round(255 - 160 * p)}, 255)`;
        g.fillRect(L + j * cell, T + i * cell, cell - 1, cell - 1);
      });
    });
  }, [actions, sigmas, profile]);
  return (
    <div>
      <Text size="sm" fw={500}>
        Profile: share of each action per noise level
      </Text>
      <canvas ref={canvas} data-testid="profile" role="img" aria-label="learned profile heat map" />
    </div>
  );
}
