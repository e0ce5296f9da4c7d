import { PageHeader } from "../ui/controls";

export function ExternalTab() {
  return <PageHeader title="ExternalTab" />;
}
