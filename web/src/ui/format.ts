const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "2-digit", month: "short", year: "numeric" });
const timeFormat = new Intl.DateTimeFormat("en-GB", {
  day: "2-digit",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZone: "UTC",
  timeZoneName: "short",
});

export function formatDate(iso: string | null | undefined, empty = "Never"): string {
  return iso ? dateFormat.format(new Date(iso)) : empty;
}

export function formatDateTime(iso: string | null | undefined, empty = "Never"): string {
  return iso ? timeFormat.format(new Date(iso)) : empty;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString("en")} ${count === 1 ? one : many}`;
}
