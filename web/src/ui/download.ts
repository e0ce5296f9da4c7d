/** Starts a download of `href` (same origin, so the session cookie goes with it) without leaving the page. */
export function download(href: string): void {
  const link = document.createElement("a");
  link.href = href;
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}
