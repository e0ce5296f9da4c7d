import { PageHeader } from "../ui/controls";

export function UsersPage() {
  return <PageHeader title="UsersPage" />;
}
