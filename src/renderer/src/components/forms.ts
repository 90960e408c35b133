// Small pieces the screens share: a whole-number field's error, and saving bytes as a file.

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
