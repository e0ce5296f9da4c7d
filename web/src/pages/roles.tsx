import { PageHeader } from "../ui/controls";

export function RolesPage() {
  return <PageHeader title="RolesPage" />;
}
