/**
 * Short confirmations of what just happened. They are shown in a manual popover, which the browser
 * puts in the top layer, so a toast raised while a modal dialog is open appears above the dialog
 * rather than behind its backdrop. The layer is also the live region screen readers hear them from.
 * A toast never takes a click (what is under it stays usable) and leaves by itself.
 */
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { DIALOG_OPENED } from "./dialog";

interface Toast {
  id: number;
  text: string;
  tone: "success" | "error";
}

/** How long a toast stays: long enough to read, and an error a little longer. */
export const SUCCESS_MS = 4000;
export const ERROR_MS = 7000;

const ToastContext = createContext<(text: string, tone?: Toast["tone"]) => void>(() => undefined);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const layer = useRef<HTMLDivElement>(null);
  const push = useCallback((text: string, tone: Toast["tone"] = "success") => {
    const id = Date.now() + Math.random();
    setToasts((list) => [...list.slice(-2), { id, text, tone }]);
    setTimeout(
      () => setToasts((list) => list.filter((toast) => toast.id !== id)),
      tone === "error" ? ERROR_MS : SUCCESS_MS,
    );
  }, []);
  const value = useMemo(() => push, [push]);

  useEffect(() => {
    // The layer stays open (empty, it takes no room): a live region that is never hidden is one
    // screen readers announce. Showing it again moves it above a dialog opened since.
    const raise = () => {
      const element = layer.current;
      if (!element?.showPopover) return;
      if (element.matches(":popover-open")) element.hidePopover();
      element.showPopover();
    };
    raise();
    document.addEventListener(DIALOG_OPENED, raise);
    return () => document.removeEventListener(DIALOG_OPENED, raise);
  }, []);

  return (
    <ToastContext.Provider value={value}>
      {children}
      <div ref={layer} className="toasts" popover="manual" role="status" aria-live="polite">
        {toasts.map((toast) => (
          <p key={toast.id} className={`toast toast-${toast.tone}`}>
            {toast.text}
          </p>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast() {
  return useContext(ToastContext);
}
