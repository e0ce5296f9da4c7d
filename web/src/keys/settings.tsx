import { PageHeader } from "../ui/controls";

export function SettingsTab() {
  return <PageHeader title="SettingsTab" />;
}
