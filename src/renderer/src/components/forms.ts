// Small pieces the screens share: a whole-number field's error, a count in few characters, and saving bytes as a file.

/** The error of a whole-number field in [min, max] ("a whole number from 1 to 100,000"), or null. */
export function wholeNumberError(v: number | string, min: number, max: number): string | null {
  const x = Number(v);
  return Number.isInteger(x) && x >= min && x <= max
    ? null
    : `a whole number from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`;
}

/** Saves bytes as a file through the browser (a download; in web mode the engine's files are elsewhere). */
export function download(name: string, data: BlobPart, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.click();
  URL.revokeObjectURL(a.href);
}

/** A count in few characters: "1.2 M", "35 k", "640". */
export const count = (x: number): string =>
  x >= 1e9
    ? `${(x / 1e9).toFixed(1)} G`
    : x >= 1e6
      ? `${(x / 1e6).toFixed(1)} M`
      : x >= 1e4
        ? `${(x / 1e3).toFixed(0)} k`
        : `${Math.round(x)}`;
