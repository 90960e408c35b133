import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { App } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { connectEngine } from './engine/client';

const engine = connectEngine();
const container = document.getElementById('root');
if (!container) throw new Error('index.html is missing #root');

createRoot(container).render(
  <StrictMode>
    <MantineProvider defaultColorScheme="auto">
      <Notifications position="top-right" limit={5} />
      <ErrorBoundary what="Sampler Studio">
        <App engine={engine} />
      </ErrorBoundary>
    </MantineProvider>
  </StrictMode>,
);
