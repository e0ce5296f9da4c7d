import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The admin UI is served by `latchkey serve` under /admin from web/dist; everything is bundled.
export default defineConfig({
  root: import.meta.dirname,
  base: "/admin/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8080" } },
});
