import '@mantine/core/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider } from '@mantine/core';
import { App } from './App';
import { connectEngine } from './engine/client';

const engine = connectEngine();
const container = document.getElementById('root');
if (!container) throw new Error('index.html is missing #root');

createRoot(container).render(
  <StrictMode>
    <MantineProvider defaultColorScheme="auto">
      <App engine={engine} />
    </MantineProvider>
  </StrictMode>,
);
