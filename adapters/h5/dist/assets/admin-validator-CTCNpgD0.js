import{Q as i}from"./admin-CNmKCq9N.js";const n=o=>["",...i].includes(o);export{n as i};
