/** `token` from a URL fragment such as `#token=abc` or `#x=1&token=abc`; null when absent or empty. */
export function tokenFromHash(hash: string): string | null {
  const m = /^#(?:.*&)?token=([^&]*)/.exec(hash);
  if (!m || !m[1]) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}
