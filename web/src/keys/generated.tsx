import { PageHeader } from "../ui/controls";

export function GeneratedTab() {
  return <PageHeader title="GeneratedTab" />;
}
