// Ambient types for the renderer. This file has no top-level import/export, so
// its declarations are global.

/// <reference types="vite/client" />

interface Window {
  /** Bridge from src/preload; absent when the renderer runs in a plain browser ("web mode"). */
  api?: import('../../preload').Api;
}
