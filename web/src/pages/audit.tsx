import { PageHeader } from "../ui/controls";

export function AuditPage() {
  return <PageHeader title="AuditPage" />;
}
