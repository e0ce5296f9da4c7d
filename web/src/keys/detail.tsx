import { PageHeader } from "../ui/controls";

export function KeyDetail({ appKey }: { appKey: string }) {
  return <PageHeader title={appKey} />;
}
