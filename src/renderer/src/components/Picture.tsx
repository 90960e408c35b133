// A picture from the engine (a PNG as base64), shown so that it can be judged:
// - a sample grid at an integer scale with nearest-neighbour pixels (no blur from a fractional
//   stretch), its rows labelled by class name, and a click that opens it larger, still at an integer
//   scale;
// - a scatter plot with its legend (the colour of each class, or of the samples, and what the grey
//   points behind are) and the names of its axes (a PCA plane for high-dimensional models).
// What the picture is comes from the picture itself: the engine writes its layout into the PNG's text
// (shared/grid-layout.ts, PictureInfo), so an old picture without it is simply shown as it is.

import { useMemo, useState, type CSSProperties } from 'react';
import { Box, Group, Modal, Stack, Text, UnstyledButton } from '@mantine/core';
import { useElementSize, useViewportSize } from '@mantine/hooks';
import { pictureInfo, type PictureInfo } from '../../../shared/grid-layout';
import { base64Bytes, pngSize, pngText } from '../../../shared/png-text';

/** Width of the class-name column beside a grid, CSS pixels. */
const LABEL_W = 92;
/** The largest scale inline (the zoomed view may go further). */
const MAX_INLINE_SCALE = 4;

export interface PictureProps {
  /** The PNG, base64. */
  png: string;
  alt: string;
  /** On the <img> (tests find the picture by it). */
  testId?: string;
  /** Shown small, this many pixels high (a preview card), without labels; the click still opens it larger. */
  thumbnail?: number;
  /** A grid's caption under each column (the development set's reward change), left to right. */
  colLabels?: string[];
}

/** The integer scale ≥ 1 at which a w × h picture fits in `width` × `height` (1 when it does not fit at all). */
export function integerScale(w: number, h: number, width: number, height = Infinity, max = Infinity): number {
  return Math.max(1, Math.min(max, Math.floor(width / w), Math.floor(height / h)));
}

export function Picture({ png, alt, testId, thumbnail, colLabels }: PictureProps) {
  const { info, size } = useMemo(() => {
    const b = base64Bytes(png);
    return { info: pictureInfo(pngText(b)), size: pngSize(b) };
  }, [png]);
  const src = useMemo(() => `data:image/png;base64,${png}`, [png]);
  const { ref, width } = useElementSize();
  const viewport = useViewportSize();
  const [zoom, setZoom] = useState(false);
  if (!size) return <img src={src} alt={alt} data-testid={testId} style={{ maxWidth: '100%' }} />;

  const labels = info?.kind === 'grid' && info.rowLabels ? LABEL_W : 0;
  const avail = Math.max(0, (width || 420) - labels);
  const inline = info?.kind === 'grid' ? integerScale(size.width, size.height, avail, Infinity, MAX_INLINE_SCALE) : 1;
  const zoomed =
    info?.kind === 'grid'
      ? integerScale(size.width, size.height, viewport.width * 0.9 - labels - 48, viewport.height * 0.8 - 80)
      : integerScale(size.width, size.height, viewport.width * 0.9 - 48, viewport.height * 0.8 - 80, 2);
  return (
    <Box ref={ref} w="100%">
      <UnstyledButton
        onClick={() => setZoom(true)}
        aria-label={`${alt}: open larger`}
        title="Click to open larger"
        data-testid={testId && `${testId}-open`}
      >
        {thumbnail !== undefined ? (
          <img
            src={src}
            alt={alt}
            data-testid={testId}
            height={thumbnail}
            style={{ display: 'block', width: '100%', objectFit: 'contain', imageRendering: 'pixelated' }}
          />
        ) : (
          <Scaled
            src={src}
            alt={alt}
            testId={testId}
            info={info}
            size={size}
            scale={inline}
            fit={width || 420}
            colLabels={colLabels}
          />
        )}
      </UnstyledButton>
      {thumbnail === undefined && <Legend info={info} />}
      <Modal
        opened={zoom}
        onClose={() => setZoom(false)}
        title={`${alt} — ×${zoomed}`}
        size="auto"
        centered
        data-testid={testId && `${testId}-zoom`}
      >
        <Scaled src={src} alt={`${alt}, enlarged`} info={info} size={size} scale={zoomed} colLabels={colLabels} />
        <Legend info={info} />
      </Modal>
    </Box>
  );
}

function Scaled({
  src,
  alt,
  testId,
  info,
  size,
  scale,
  fit,
  colLabels,
}: {
  src: string;
  alt: string;
  testId?: string;
  info: PictureInfo | null;
  size: { width: number; height: number };
  scale: number;
  /** A scatter plot (not pixel art) shrinks to this width when wider. */
  fit?: number;
  colLabels?: string[];
}) {
  if (info?.kind !== 'grid') {
    const w = fit !== undefined ? Math.min(size.width * scale, fit) : size.width * scale;
    return <img src={src} alt={alt} data-testid={testId} width={w} style={{ display: 'block', height: 'auto' }} />;
  }
  const { pad, tile, rowLabels } = info;
  const pixelated: CSSProperties = { imageRendering: 'pixelated', display: 'block' };
  return (
    <Group gap={0} align="flex-start" wrap="nowrap" data-scale={scale}>
      {rowLabels && (
        <Box pos="relative" w={LABEL_W} h={size.height * scale} style={{ flex: 'none' }}>
          {rowLabels.map((name, r) => (
            <Text
              key={r}
              size="xs"
              ta="right"
              pr={6}
              truncate
              pos="absolute"
              right={0}
              w={LABEL_W}
              top={(pad + r * (tile[0] + pad)) * scale}
              h={tile[0] * scale}
              lh={`${tile[0] * scale}px`}
              data-testid="row-label"
            >
              {name}
            </Text>
          ))}
        </Box>
      )}
      <div>
        <img
          src={src}
          alt={alt}
          data-testid={testId}
          width={size.width * scale}
          height={size.height * scale}
          style={pixelated}
        />
        {colLabels && (
          <Box pos="relative" w={size.width * scale} h={16}>
            {colLabels.map((text, c) => (
              <Text
                key={c}
                fz={10}
                ta="center"
                pos="absolute"
                top={0}
                left={(pad + c * (tile[1] + pad)) * scale - 8}
                w={tile[1] * scale + 16}
                lh="16px"
                data-testid="col-label"
              >
                {text}
              </Text>
            ))}
          </Box>
        )}
      </div>
    </Group>
  );
}

function Legend({ info }: { info: PictureInfo | null }) {
  if (info?.kind !== 'scatter') return null;
  const swatch = (rgb: readonly number[], key: string, label: string) => (
    <Group key={key} gap={4} wrap="nowrap">
      <Box w={10} h={10} style={{ borderRadius: 5, background: `rgb(${rgb.join(',')})` }} />
      <Text size="xs">{label}</Text>
    </Group>
  );
  return (
    <Stack gap={2} mt={4} data-testid="scatter-legend">
      <Group gap="sm">
        {info.series.map((s, i) => swatch(s.rgb, String(i), s.label))}
        {info.background && swatch([190, 190, 190], 'bg', info.background)}
      </Group>
      <Text size="xs" c="dimmed">
        x: {info.axes[0]} · y: {info.axes[1]}
      </Text>
    </Stack>
  );
}
