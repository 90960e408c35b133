// The learned profile (the paper's Figure 2): the share of each action (columns) at each noise
// level (rows, high σ at the top), as a heat map that fills the width it is given (cells 24–64 px),
// with a colour bar and the cell's values under the pointer.

import { useEffect, useRef, useState } from 'react';
import { Box, Group, Text } from '@mantine/core';
import { useElementSize } from '@mantine/hooks';

/** Left margin (σ labels) and top margin (action labels), CSS pixels. */
const L = 64;
const T = 20;
const MIN_CELL = 24;
const MAX_CELL = 64;
const ROW_H = 22;

/** White → deep blue with the share p ∈ [0, 1] (the colour bar shows the same ramp). */
export function shareColour(p: number): string {
  const q = Math.max(0, Math.min(1, p));
  return `rgb(${Math.round(255 * (1 - q))}, ${Math.round(255 - 160 * q)}, 255)`;
}

/** The cell under (x, y) in CSS pixels of the canvas, or null outside the cells. */
export function cellAt(x: number, y: number, cell: number, rows: number, cols: number): [number, number] | null {
  const c = Math.floor((x - L) / cell);
  const r = Math.floor((y - T) / ROW_H);
  return r >= 0 && r < rows && c >= 0 && c < cols ? [r, c] : null;
}

/** An action value as a short label (1.125 → "1.125", 0.41421356 → "0.414"). */
const short = (v: number): string => String(Number(v.toPrecision(3)));

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
  const { ref, width } = useElementSize();
  const [hover, setHover] = useState<[number, number] | null>(null);
  const cell = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor(((width || 420) - L) / Math.max(1, actions.length))));
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    const w = L + actions.length * cell;
    const h = T + profile.length * ROW_H;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    c.style.width = `${w}px`;
    c.style.height = `${h}px`;
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#868e96';
    g.textAlign = 'center';
    actions.forEach((a, j) => g.fillText(short(a), L + j * cell + cell / 2, 13, cell - 2));
    g.textAlign = 'right';
    profile.forEach((row, i) => {
      g.fillStyle = '#868e96';
      g.fillText(`σ ${sigmas[i]!.toPrecision(2)}`, L - 6, T + i * ROW_H + 15);
      row.forEach((p, j) => {
        g.fillStyle = shareColour(p);
        g.fillRect(L + j * cell, T + i * ROW_H, cell - 1, ROW_H - 1);
      });
    });
  }, [actions, sigmas, profile, cell]);

  const at = hover && profile[hover[0]] ? hover : null;
  return (
    <Box ref={ref} w="100%">
      <canvas
        ref={canvas}
        data-testid="profile"
        role="img"
        aria-label="learned profile heat map"
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          setHover(cellAt(e.clientX - r.left, e.clientY - r.top, cell, profile.length, actions.length));
        }}
        onMouseLeave={() => setHover(null)}
      />
      <Group gap="xs" mt={4} wrap="nowrap" ml={L}>
        <Text size="xs" c="dimmed">
          0
        </Text>
        <Box
          w={120}
          h={10}
          data-testid="profile-colour-bar"
          style={{
            background: `linear-gradient(to right, ${shareColour(0)}, ${shareColour(0.5)}, ${shareColour(1)})`,
            border: '1px solid #ced4da',
          }}
        />
        <Text size="xs" c="dimmed">
          1 (share of the samples at that σ)
        </Text>
      </Group>
      <Text size="xs" ml={L} mt={2} data-testid="profile-hover" c={at ? undefined : 'dimmed'}>
        {at
          ? `σ ${sigmas[at[0]]!.toPrecision(3)}, action ${short(actions[at[1]]!)}: ${(profile[at[0]]![at[1]]! * 100).toFixed(1)}% of the samples`
          : 'Point at a cell for its value.'}
      </Text>
    </Box>
  );
}
