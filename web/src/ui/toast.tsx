/**
 * Short confirmations of what just happened. They are shown in a manual popover, which the browser
 * puts in the top layer, so a toast raised while a modal dialog is open appears above the dialog
 * rather than behind its backdrop. Screen readers hear them through a live region that is always in
 * the page (a hidden popover would not be announced).
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

const ToastContext = createContext<(text: string, tone?: Toast["tone"]) => void>(() => undefined);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const layer = useRef<HTMLDivElement>(null);
  const push = useCallback((text: string, tone: Toast["tone"] = "success") => {
    const id = Date.now() + Math.random();
    setToasts((list) => [...list.slice(-2), { id, text, tone }]);
    setTimeout(() => setToasts((list) => list.filter((toast) => toast.id !== id)), 5000);
  }, []);
  const value = useMemo(() => push, [push]);

  const count = toasts.length;
  useEffect(() => {
    // Showing again moves the popover above any dialog opened since it was last shown.
    const raise = () => {
      const element = layer.current;
      if (!element?.showPopover) return;
      if (element.matches(":popover-open")) element.hidePopover();
      if (count > 0) element.showPopover();
    };
    raise();
    document.addEventListener(DIALOG_OPENED, raise);
    return () => document.removeEventListener(DIALOG_OPENED, raise);
  }, [count]);

  const latest = toasts.at(-1);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div ref={layer} className="toasts" popover="manual" aria-hidden="true">
        {toasts.map((toast) => (
          <p key={toast.id} className={`toast toast-${toast.tone}`}>
            {toast.text}
          </p>
        ))}
      </div>
      <div className="visually-hidden" role="status" aria-live="polite">
        {latest?.text}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast() {
  return useContext(ToastContext);
}
