// TensorBoard's smoothing slider: one weight for every curve of the app (Train and Runs), kept in
// localStorage so that it stays across screens and reloads. 0 draws the raw values.

import { Group, Slider, Text } from '@mantine/core';
import { useLocalStorage } from '@mantine/hooks';

const KEY = 'sampler-studio:smoothing';

export function useSmoothing(): [number, (w: number) => void] {
  const [w, setW] = useLocalStorage<number>({ key: KEY, defaultValue: 0, getInitialValueInEffect: false });
  return [Number.isFinite(w) && w >= 0 && w < 1 ? w : 0, setW];
}

export function SmoothingSlider({ value, onChange }: { value: number; onChange: (w: number) => void }) {
  return (
    <Group gap="xs" wrap="nowrap" w={300} data-testid="smoothing">
      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
        Smoothing
      </Text>
      <Slider
        flex={1}
        min={0}
        max={0.99}
        step={0.01}
        value={value}
        onChange={onChange}
        label={(w) => w.toFixed(2)}
        thumbLabel="curve smoothing"
      />
      <Text size="xs" ff="monospace" w={32}>
        {value.toFixed(2)}
      </Text>
    </Group>
  );
}
